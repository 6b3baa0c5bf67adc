"""New and rising issues for the top of the report: label, size, trend, version, best quote, and the
competitors that have the same problem."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voxpop.report.comparison import INACTIVE_ISSUE_STATES, same_problem

NEW_OR_RISING = ("new", "rising", "reopened")


def trend_text(first: int, second: int) -> str:
    """``rising (3 then 15)``: the two halves of the period in plain words."""
    if second > first:
        word = "rising"
    elif second < first:
        word = "easing"
    else:
        word = "steady"
    return f"{word} ({first} in the first half, {second} in the second)"


def new_and_rising(issues: Mapping[int, list[dict[str, Any]]], details: Mapping[int, Mapping[str, Any]],
                   slug_of: Mapping[int, str], names: Mapping[str, str], own: str | None,
                   limit: int = 10) -> list[dict[str, Any]]:
    """Issues in state new, rising or reopened with posts in the period; ours first, then by size."""
    out: list[dict[str, Any]] = []
    for pid, items in issues.items():
        for issue in items:
            if issue["state"] not in NEW_OR_RISING:
                continue
            others = sorted({slug_of[q] for q, theirs in issues.items() if q != pid for t in theirs
                             if t["state"] not in INACTIVE_ISSUE_STATES and same_problem(issue, t)})
            d = details.get(issue["issue_id"], {})
            versions = d.get("versions") or []
            out.append({
                "product": slug_of[pid], "name": names[slug_of[pid]], "own": slug_of[pid] == own,
                "issue_id": issue["issue_id"], "label": issue["label"], "state": issue["state"],
                "count": issue["count"], "posts": issue.get("posts"),
                "first_half": issue["first_half"], "second_half": issue["second_half"],
                "trend": issue["trend"], "trend_text": trend_text(issue["first_half"], issue["second_half"]),
                "version": versions[0]["version"] if versions else None,
                "first_version": d.get("first_version"), "versions": versions,
                "negative": d.get("negative", 0), "classified": d.get("classified", 0),
                "jobs": d.get("jobs", {}), "quote": issue["evidence"], "url": issue["url"],
                "competitors": [names[s] for s in others],
            })
    out.sort(key=lambda i: (not i["own"], -i["count"], i["issue_id"]))
    return out[:limit]
