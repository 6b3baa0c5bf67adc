"""One set of numbers for an issue (issue 27, part 5).

Every surface that shows how many posts an issue has (the overview, the issue page, ``/api/issues``, the
report, ``voxpop issues``, the themes) reads them here, so the same issue shows the same count at the
same moment. The figures are live (the issue's member posts now); an alert's figures are a snapshot as
of its day, stored with the alert (:func:`snapshot_figures`), and shown with that date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from store.curation import effective_columns
from store.models import Classification, IssuePost, Post, PostLabel


@dataclass(frozen=True)
class IssueFigures:
    """Counts of one issue's posts: all of them and the negative ones (people's labels win)."""

    posts: int
    negative: int
    as_of: str  # "live" or the ISO day of a snapshot

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _counts(session: Session, issue_ids: list[int], until: datetime | None) -> dict[int, tuple[int, int]]:
    sentiment = effective_columns()["sentiment"]
    out: dict[int, tuple[int, int]] = {}
    for start in range(0, len(issue_ids), 500):
        chunk = issue_ids[start:start + 500]
        query = (select(IssuePost.issue_id, func.count(),
                        func.sum(case((sentiment == "negative", 1), else_=0)))
                 .join(Post, Post.id == IssuePost.post_id)
                 .outerjoin(Classification, Classification.post_id == Post.id)
                 .outerjoin(PostLabel, PostLabel.post_id == Post.id)
                 .where(IssuePost.issue_id.in_(chunk)).group_by(IssuePost.issue_id))
        if until is not None:
            query = query.where(Post.created_at <= until)
        for issue_id, n, neg in session.execute(query):
            out[int(issue_id)] = (int(n or 0), int(neg or 0))
    return out


def live_figures(session: Session, issue_ids: Iterable[int]) -> dict[int, IssueFigures]:
    """Each issue's posts now (an issue with no posts gets zeros)."""
    ids = sorted(set(int(i) for i in issue_ids))
    found = _counts(session, ids, None)
    return {i: IssueFigures(*found.get(i, (0, 0)), as_of="live") for i in ids}


def post_counts(session: Session, issue_ids: Iterable[int]) -> dict[int, int]:
    """Each issue's post count now: the one number every surface shows as the issue's size.

    ``live_figures``' count read from the membership table's primary key alone: a member's post always
    exists (foreign keys are enforced on both databases) and a post has at most one classification and one
    label row, so the joins there add no rows; this skips a random read of each member post (issue 29).
    """
    ids = sorted(set(int(i) for i in issue_ids))
    out = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), 500):
        query = (select(IssuePost.issue_id, func.count()).where(IssuePost.issue_id.in_(ids[start:start + 500]))
                 .group_by(IssuePost.issue_id))
        for issue_id, n in session.execute(query):
            out[int(issue_id)] = int(n or 0)
    return out


def snapshot_figures(session: Session, issue_id: int, until: datetime) -> IssueFigures:
    """The issue's posts created up to ``until`` (an alert's moment), labelled with that day."""
    n, neg = _counts(session, [issue_id], until).get(issue_id, (0, 0))
    return IssueFigures(n, neg, as_of=until.date().isoformat())


def snapshot_versions(session: Session, issue_id: int, until: datetime, limit: int = 5) -> list[dict[str, Any]]:
    """The app versions of the issue's posts created up to ``until``, most posts first."""
    rows = session.execute(
        select(Post.version, func.count()).join(IssuePost, IssuePost.post_id == Post.id)
        .where(IssuePost.issue_id == issue_id, Post.version.is_not(None), Post.created_at <= until)
        .group_by(Post.version).order_by(func.count().desc(), Post.version).limit(limit)).all()
    return [{"version": v, "count": int(n)} for v, n in rows]
