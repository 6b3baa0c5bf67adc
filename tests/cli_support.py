"""The one way tests run the ``voxpop`` command in-process (click's CliRunner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result


def invoke(*args: str, db_url: str = "", config: Path | None = None, env: dict[str, Any] | None = None) -> Result:
    """``voxpop [--config CONFIG] ARGS`` with ``VOXPOP_DATABASE_URL`` set to ``db_url`` (''= from the config).

    Without ``config`` no config file is read (``VOXPOP_CONFIG`` is emptied). Exceptions other than
    the CLI's own one-line errors propagate, so a bug shows its traceback.
    """
    from voxpop.cli import main

    prefix = ["--config", str(config)] if config is not None else []
    return CliRunner().invoke(main, [*prefix, *args], catch_exceptions=False,
                              env={"VOXPOP_DATABASE_URL": db_url, "VOXPOP_CONFIG": "", **(env or {})})
