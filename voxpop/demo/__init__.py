"""``voxpop demo``: a local site server, the content it serves, and the demo runner."""
