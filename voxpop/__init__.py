"""voxpop: the package for everything of ours outside the five top-level packages (see DESIGN.md)."""
