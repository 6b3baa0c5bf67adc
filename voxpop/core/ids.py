"""One parser for ids and whole numbers wherever input arrives (route, query string, form, CLI argument).

``str.isdigit()`` accepts '²' and other digits ``int()`` refuses or reads differently, and Python's integers
have no upper bound while the database's do: every id column is ``integer`` (32-bit on PostgreSQL; SQLite
stores 64-bit). So an id here is ASCII digits only and within the narrowest column's range; anything else is
"no such thing" (404) or a one-line error, never a server error. Part of ``voxpop.core`` (imports nothing of ours).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

DB_INT_MAX = 2**31 - 1  # PostgreSQL ``integer``: the id columns' type on every database we run
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
_LIST_SPLIT = re.compile(r"[,\s]+")
# C0/C1 control characters (NUL included: PostgreSQL refuses it in text), except tab and line breaks.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class BadNumber(ValueError):
    """A value that is not a usable id or whole number; the message names the field (one line)."""


def whole_number(value: object, name: str = "value", *, lo: int = 0, hi: int = DB_INT_MAX) -> int:
    """``value`` (str or int) as an int of ASCII digits within ``lo..hi``, else :class:`BadNumber`."""
    if isinstance(value, bool):
        raise BadNumber(f"{name}: expected a whole number")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not _ASCII_DIGITS.fullmatch(text):
            raise BadNumber(f"{name}: expected a whole number from {lo} to {hi}, got {_shown(text)}")
        number = int(text)
    if not lo <= number <= hi:
        shown = number if abs(number) < 10**12 else _shown(str(number))
        raise BadNumber(f"{name}: expected a whole number from {lo} to {hi}, got {shown}")
    return number


def parse_id(value: object, name: str = "id") -> int:
    """A database id (1 to :data:`DB_INT_MAX`, ASCII digits only), else :class:`BadNumber`."""
    return whole_number(value, name, lo=1, hi=DB_INT_MAX)


def id_or_none(value: object) -> int | None:
    """A database id, or None for anything that cannot be one (the caller answers "not found")."""
    try:
        return parse_id(value)
    except BadNumber:
        return None


def parse_ids(value: str | Iterable[object], name: str = "ids", *, limit: int = 10_000) -> list[int]:
    """Ids separated by commas or spaces (or an iterable of them), in order, without repeats; at least one."""
    parts = [p for p in _LIST_SPLIT.split(value.strip()) if p] if isinstance(value, str) else list(value)
    if not parts:
        raise BadNumber(f"{name}: give at least one id")
    if len(parts) > limit:
        raise BadNumber(f"{name}: at most {limit} ids")
    try:
        return list(dict.fromkeys(parse_id(p, name) for p in parts))
    except BadNumber:
        raise BadNumber(f"{name}: give ids as whole numbers from 1 to {DB_INT_MAX} separated by commas") from None


YEAR_MIN, YEAR_MAX = 1970, 2999  # dates outside cannot be a post's; arithmetic on them stays in range


def check_day(value: date, name: str = "date") -> date:
    """``value`` when its year is within :data:`YEAR_MIN`..:data:`YEAR_MAX`, else :class:`BadNumber`
    (a period or baseline computed from 0001-01-01 or 9999-12-31 leaves the calendar: OverflowError)."""
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise BadNumber(f"{name}: expected a date between {YEAR_MIN}-01-01 and {YEAR_MAX}-12-31, "
                        f"got {value.isoformat()}")
    return value


def strip_controls(value: str) -> str:
    """``value`` without NUL and other control characters (kept: tab, CR, LF)."""
    return _CONTROLS.sub("", value) if _CONTROLS.search(value) else value


def _shown(text: str) -> str:
    return repr(strip_controls(text[:24]) + ("…" if len(text) > 24 else ""))


__all__ = ["DB_INT_MAX", "YEAR_MAX", "YEAR_MIN", "BadNumber", "check_day", "id_or_none", "parse_id", "parse_ids",
           "strip_controls", "whole_number"]
