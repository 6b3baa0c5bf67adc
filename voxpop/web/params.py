"""The dashboard's edge for request values: ids from the path, numbers and text from the query string and forms.

Every handler reads ids through :func:`path_id` (an id the database cannot hold is "no such thing", a 404)
and query/form numbers through :func:`number` (a 400 naming the field). A query string holding NUL or another
control character is refused with a 400 before any handler runs (:func:`check_query`); form fields have them
stripped (:func:`clean_form`). The rules themselves live in :mod:`voxpop.core.ids`, shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from voxpop.core.ids import BadNumber, id_or_none, strip_controls, whole_number
from voxpop.web.queries import QueryError


class ParamError(QueryError):
    """A query or form value that cannot be used: one line for a 400 page (a QueryError, so handled alike)."""


def path_id(request: Request, name: str) -> int | None:
    """The id in the route parameter ``name`` (matched as digits), or None when no row could have it."""
    return id_or_none(str(request.path_params.get(name, "")))


def number(value: str | None, name: str, default: int, *, lo: int = 0, hi: int = 2**31 - 1) -> int:
    """A whole number from a query or form value (empty means ``default``), else :class:`ParamError`."""
    if value is None or not value.strip():
        return default
    try:
        return whole_number(value, name, lo=lo, hi=hi)
    except BadNumber as exc:
        raise ParamError(str(exc)) from None


def check_query(request: Request) -> None:
    """Refuse a query string whose names or values hold control characters (NUL breaks PostgreSQL text)."""
    for key, value in request.query_params.multi_items():
        if strip_controls(key) != key or strip_controls(value) != value:
            raise ParamError(f"{strip_controls(key)[:40]}: control characters are not allowed")


def clean_form(fields: Mapping[str, Any]) -> dict[str, str]:
    """Text fields of a posted form, trimmed and without control characters (files are ignored)."""
    return {strip_controls(k): strip_controls(v).strip() for k, v in fields.items() if isinstance(v, str)}


__all__ = ["ParamError", "check_query", "clean_form", "number", "path_id"]
