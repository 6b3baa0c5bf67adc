"""voxpop: everything of ours that is not a card package (cli, config, operations, report, ...)."""
