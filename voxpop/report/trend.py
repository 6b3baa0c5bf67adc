"""The one trend of an issue everywhere (issue list, overview, compare): posts in the last 7 days minus the
7 days before, read from the issue's daily counts and ending on a given day."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

RISE_DAYS = 7
RISE_TEXT = f"posts in the last {RISE_DAYS} days minus the {RISE_DAYS} days before"


def day_series(counts: Mapping[str, Any], end: date, days: int) -> list[tuple[str, int]]:
    """``days`` consecutive (day, count) pairs ending at ``end`` from an issue's daily counts."""
    out = []
    for i in range(days - 1, -1, -1):
        d = (end - timedelta(days=i)).isoformat()
        out.append((d, int(counts.get(d, 0) or 0)))
    return out


def rise(counts: Mapping[str, Any], end: date, days: int = RISE_DAYS) -> int:
    """Posts in the last ``days`` days minus the ``days`` before them."""
    series = [n for _, n in day_series(counts, end, 2 * days)]
    return sum(series[days:]) - sum(series[:days])
