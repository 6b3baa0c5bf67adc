"""The core: text, errors, time and language helpers that import nothing else of ours."""
