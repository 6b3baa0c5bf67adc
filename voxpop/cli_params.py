"""Click parameter types for the CLI's ids, built on :mod:`voxpop.core.ids` (the same rules as the dashboard).

An id the database cannot hold (``99999999999999999999999``, ``²``, ``-3``) becomes click's one usage line
("Invalid value for '--post': ..."), exit status 2, never a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from voxpop.core.ids import BadNumber, parse_id, parse_ids


class IdType(click.ParamType):
    """A database id: ASCII digits, 1 to 2**31-1."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return parse_id(value, "id")
        except BadNumber as exc:
            self.fail(str(exc).removeprefix("id: "), param, ctx)


def ids_list(value: str, what: str) -> list[int]:
    """Comma-separated ids for an option such as ``--posts``, else a click usage error."""
    try:
        return parse_ids(value, f"{what} ids")
    except BadNumber as exc:
        raise click.BadParameter(str(exc)) from None


ID = IdType()

__all__ = ["ID", "IdType", "ids_list"]
