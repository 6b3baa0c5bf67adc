"""voxpop: everything outside the card's top level (cli, operations, workers, config, demo, core, report)."""

__version__ = "0.1.0"
