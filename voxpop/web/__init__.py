"""The web dashboard (``voxpop serve``): an ASGI app over the store."""
