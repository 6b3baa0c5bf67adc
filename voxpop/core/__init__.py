"""The bottom layer: text, time and error helpers that import nothing else of ours."""
