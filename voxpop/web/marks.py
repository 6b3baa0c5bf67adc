"""Marks the dashboard puts beside its figures: whether a change is real, could be chance or rests on too
few posts (the report's tests, :mod:`voxpop.report.headline`), and why an issue is muted or reopened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditLog, Issue, IssueCuration
from voxpop.report.figures import DEFAULT_MIN_N
from voxpop.report.headline import mean_change, posts_change, share_change

WORDS = {"real": "real", "noise": "could be chance", "small": "too few"}


def rating_sd(mean: float | None, mean_sq: float | None, n: int) -> float | None:
    """The sample standard deviation of ratings from their mean and the mean of their squares."""
    if mean is None or mean_sq is None or n < 2:
        return None
    return math.sqrt(max(0.0, (float(mean_sq) - float(mean) ** 2) * n / (n - 1)))


def _mark(change: Mapping[str, Any]) -> dict[str, Any] | None:
    verdict = change.get("verdict")
    if verdict not in WORDS:
        return None
    return {"verdict": verdict, "words": WORDS[verdict], "text": change.get("text", "")}


def change_marks(now: Mapping[str, Any], before: Mapping[str, Any], min_n: int = DEFAULT_MIN_N
                 ) -> dict[str, dict[str, Any] | None]:
    """Per overview figure (volume, rating, negative share): its verdict, the words and the report's sentence."""
    rating_now = {"n": int(now.get("ratings") or 0), "mean": now.get("rating"), "sd": now.get("rating_sd")}
    rating_before = {"n": int(before.get("ratings") or 0), "mean": before.get("rating"), "sd": before.get("rating_sd")}
    marks: dict[str, dict[str, Any] | None] = {
        "volume": _mark(posts_change(int(now.get("volume") or 0), int(before.get("volume") or 0), min_n))}
    if rating_now["mean"] is not None and rating_before["mean"] is not None and rating_now["sd"] is not None \
            and rating_before["sd"] is not None:
        marks["rating"] = _mark(mean_change(rating_now, rating_before, min_n))
    else:
        marks["rating"] = None
    neg_now = (int((now.get("sentiment") or {}).get("negative", 0)), int(now.get("classified") or 0))
    neg_before = (int((before.get("sentiment") or {}).get("negative", 0)), int(before.get("classified") or 0))
    marks["negative_share"] = _mark(share_change("negative share", neg_now, neg_before, min_n))
    return marks


def issue_notes(session: Session, issue_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """Why an issue is muted (until when, by whom) or reopened (by a person, or came back after a resolve)."""
    ids = list(dict.fromkeys(issue_ids))
    if not ids:
        return {}
    notes: dict[int, dict[str, str]] = {}
    last: dict[tuple[int, str], AuditLog] = {}
    for entry in session.scalars(select(AuditLog).where(AuditLog.issue_id.in_(ids),
                                                        AuditLog.action.in_(("mute", "resolve", "reopen")))
                                 .order_by(AuditLog.id)):
        last[(int(entry.issue_id or 0), entry.action)] = entry
    for row in session.scalars(select(IssueCuration).where(IssueCuration.issue_id.in_(ids),
                                                           IssueCuration.muted.is_(True))):
        until = f"until {row.muted_until.isoformat()}" if row.muted_until else "until unmuted"
        who = last.get((row.issue_id, "mute"))
        notes.setdefault(row.issue_id, {})["muted"] = (
            f"alerts muted {until}" + (f" by {who.by} on {who.at.date().isoformat()}" if who else ""))
    for issue_id, changed in session.execute(select(Issue.id, Issue.state_changed_at)
                                             .where(Issue.id.in_(ids), Issue.state == "reopened")).all():
        reopen, resolve = last.get((issue_id, "reopen")), last.get((issue_id, "resolve"))
        if reopen is not None and (resolve is None or reopen.id > resolve.id):
            why = f"reopened by {reopen.by} on {reopen.at.date().isoformat()}"
        elif resolve is not None:
            why = f"came back after {resolve.by} resolved it on {resolve.at.date().isoformat()}"
        else:
            since = f" on {changed.date().isoformat()}" if changed else ""
            why = f"came back{since} after it had gone quiet"
        notes.setdefault(issue_id, {})["reopened"] = why
    return notes
