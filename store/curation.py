"""What people decided, as the rest of the system reads it: human post labels and issue curation.

Detection loads one :class:`CurationState` per product (:func:`load_curation`) and consults it; readers
of labels (export, report, detection) take the human value when there is one through
:func:`effective_columns`. The actions that write these rows live in ``voxpop.curation``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import numpy as np

from store.models import Classification, Issue, IssueCuration, IssuePost, Post, PostExclusion, PostLabel, PostProduct

MERGED = "merged"  # Issue.state of an issue merged into another (kept so its id never re-forms)


@dataclass(frozen=True)
class IssueDecision:
    """People's decisions about one issue."""

    issue_id: int
    label: str | None = None
    muted: bool = False
    muted_until: date | None = None
    merged_into: int | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class CurationState:
    """A product's curated issues, as detection and backtest consult them."""

    issues: Mapping[int, IssueDecision] = field(default_factory=dict)

    def human_label(self, issue_id: int | None) -> str | None:
        """The label a person gave the issue, or None."""
        decision = self.issues.get(issue_id) if issue_id is not None else None
        return decision.label if decision else None

    def is_merged(self, issue_id: int | None) -> bool:
        """Whether the issue was merged into another (it must never take posts or alert again)."""
        decision = self.issues.get(issue_id) if issue_id is not None else None
        return bool(decision and decision.merged_into is not None)

    def survivor(self, issue_id: int) -> int:
        """The issue that holds ``issue_id``'s posts now (following merges)."""
        seen = {issue_id}
        while True:
            decision = self.issues.get(issue_id)
            if decision is None or decision.merged_into is None or decision.merged_into in seen:
                return issue_id
            issue_id = decision.merged_into
            seen.add(issue_id)

    def silenced(self, issue_id: int | None, day: date) -> bool:
        """Whether the issue is muted on ``day`` (muted with no date: until unmuted)."""
        decision = self.issues.get(issue_id) if issue_id is not None else None
        if decision is None or not decision.muted:
            return False
        return decision.muted_until is None or day < decision.muted_until

    def resolved_at(self, issue_id: int | None) -> datetime | None:
        """When a person resolved the issue (None if they did not, or reopened it)."""
        decision = self.issues.get(issue_id) if issue_id is not None else None
        return decision.resolved_at if decision else None


def load_curation(session: Session, product_id: int) -> CurationState:
    """The curation of one product's issues (one query)."""
    rows = session.execute(
        select(IssueCuration).join(Issue, Issue.id == IssueCuration.issue_id).where(Issue.product_id == product_id)
    ).scalars()
    return CurationState({
        r.issue_id: IssueDecision(r.issue_id, r.label, bool(r.muted), r.muted_until, r.merged_into,
                                  _utc(r.resolved_at) if r.resolved_at else None)
        for r in rows
    })


def excluded_posts(session: Session, product_id: int) -> set[int]:
    """The product's posts people took out of issues (not an issue, or a split too small to be one)."""
    return set(session.scalars(
        select(PostExclusion.post_id).join(PostProduct, and_(PostProduct.post_id == PostExclusion.post_id,
                                                             PostProduct.product_id == product_id))))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# ---------------------------------------------------------------- labels in force


def effective_columns() -> dict[str, Any]:
    """SQL expressions of the labels in force: the human label when there is one, else the model's.

    The query must ``outerjoin(PostLabel, PostLabel.post_id == Post.id)`` (or ``Classification.post_id``).
    ``label_source`` is ``human`` when any field of the post was corrected.
    """
    return {
        "sentiment": func.coalesce(PostLabel.sentiment, Classification.sentiment).label("sentiment"),
        "need_type": func.coalesce(PostLabel.need_type, Classification.need_type).label("need_type"),
        "unmet_need": case((PostLabel.unmet_need.is_not(None), PostLabel.unmet_need),
                           else_=Classification.unmet_need).label("unmet_need"),
        "top_job": case((PostLabel.jobs.is_not(None), PostLabel.top_job),
                        else_=Classification.top_job).label("top_job"),
        "step": func.coalesce(PostLabel.step, Classification.step).label("step"),
        "label_source": case((PostLabel.post_id.is_not(None), "human"), else_="model").label("label_source"),
    }


def human_labels(session: Session, post_ids: Iterable[int]) -> dict[int, PostLabel]:
    """The human labels of the given posts (only those that have any)."""
    ids = list(post_ids)
    out: dict[int, PostLabel] = {}
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(PostLabel).where(PostLabel.post_id.in_(ids[start:start + 500]))):
            out[row.post_id] = row
    return out


def top_job_of(jobs: list[Any] | None) -> str | None:
    """The first job of a stored job list (``[{"job": id, "score": s}]`` or plain ids)."""
    if not jobs:
        return None
    first = jobs[0]
    return str(first["job"]) if isinstance(first, dict) else str(first)


# ---------------------------------------------------------------- issue figures from members


def recompute_issue(session: Session, issue: Issue) -> None:
    """Set an issue's size, centroid, days, need types, versions and negatives from its member posts.

    Used after people move posts between issues (merge, split, relabel), with the labels in force.
    """
    import numpy as np  # here, not at the top: readers of labels (and the CLI's start) need no numpy
    cols = effective_columns()
    rows = session.execute(
        select(Post.id, Post.created_at, Post.version, Classification.embedding, cols["need_type"], cols["sentiment"])
        .join(IssuePost, and_(IssuePost.post_id == Post.id, IssuePost.issue_id == issue.id))
        .outerjoin(Classification, Classification.post_id == Post.id)
        .outerjoin(PostLabel, PostLabel.post_id == Post.id)
    ).all()
    daily: dict[str, int] = {}
    needs: dict[str, int] = {}
    versions: dict[str, int] = {}
    negative = 0
    total: np.ndarray | None = None
    times = []
    for r in rows:
        if r.created_at is not None:
            created = _utc(r.created_at)
            times.append(created)
            key = created.date().isoformat()
            daily[key] = daily.get(key, 0) + 1
        if r.need_type:
            needs[r.need_type] = needs.get(r.need_type, 0) + 1
        if r.version:
            versions[r.version] = versions.get(r.version, 0) + 1
        negative += int(r.sentiment == "negative")
        if r.embedding:
            vec = np.frombuffer(r.embedding, dtype=np.float32).astype(np.float64)
            total = vec.copy() if total is None else total + vec
    issue.size = len(rows)
    if total is not None:
        issue.centroid = (total / max(1, len(rows))).astype(np.float32).tobytes()
    issue.daily_counts = dict(sorted(daily.items()))
    issue.first_seen = min(times) if times else None
    issue.last_seen = max(times) if times else None
    issue.need_type = max(needs.items(), key=lambda kv: (kv[1], kv[0]))[0] if needs else None
    stats = dict(issue.stats or {})
    stats.update(need_types=needs, versions=versions, negative=negative)
    issue.stats = stats
