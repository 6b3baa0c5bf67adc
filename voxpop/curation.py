"""People correct the machine: relabel posts, curate issues, and every action lands in the audit log.

One implementation of each action, called by the CLI, the scheduler and the dashboard. Every function
takes a session, writes its rows and one audit entry per issue or post it touches, returns a small
frozen record, and never commits (the caller owns the transaction). Bad ids and bad values raise
:class:`CurationError` with one clear line.

Detection reads the outcome through ``store.curation.load_curation``; readers of labels take the human
value through ``store.curation.effective_columns``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from classify.labels import NEED_TYPES, SENTIMENTS, UNMET_NEEDS
from store import rollups
from store.curation import MERGED, recompute_issue
from store.models import (
    AuditLog,
    Classification,
    Issue,
    IssueCuration,
    IssuePost,
    LabelCorrection,
    Post,
    PostExclusion,
    PostLabel,
    PostProduct,
    Product,
)
from voxpop.config import AlertSpec
from voxpop.core.errors import JobError

ACTIVE_STATES = ("new", "rising", "ongoing", "reopened")
MAX_LABEL = 200
MAX_BULK = 500
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")  # the step ids of [[products.steps]] (voxpop/config.py)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class CurationError(JobError):
    """A curation action cannot be done as asked (unknown id, bad value): one clear line."""


@dataclass(frozen=True)
class FieldChange:
    """One field of a post's labels before and after a correction."""

    field: str  # sentiment | need_type | jobs
    old: Any
    new: Any
    old_source: str  # human | model | none


@dataclass(frozen=True)
class Correction:
    """What :func:`label_post` did."""

    post_id: int
    product_id: int
    changes: tuple[FieldChange, ...]
    by: str
    at: datetime
    issues_touched: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"post_id": self.post_id, "product_id": self.product_id, "by": self.by, "at": self.at.isoformat(),
                "changes": [vars(c) for c in self.changes], "issues_touched": list(self.issues_touched)}


@dataclass(frozen=True)
class IssueAction:
    """What an issue action did (rename, merge, mute, unmute, resolve, reopen)."""

    action: str
    issue_id: int
    by: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"action": self.action, "issue_id": self.issue_id, "by": self.by, "at": self.at.isoformat(),
                **self.details}


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: datetime
    by: str
    action: str
    product_id: int | None
    issue_id: int | None
    post_id: int | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"id": self.id, "at": self.at.isoformat(), "by": self.by, "action": self.action,
                "product_id": self.product_id, "issue_id": self.issue_id, "post_id": self.post_id,
                "details": self.details}


def _now() -> datetime:
    return datetime.now(UTC)


def _who(by: str) -> str:
    name = _CONTROL.sub("", by or "").strip()
    if not name:
        raise CurationError("say who is acting (by): an empty name is not allowed")
    return name[:200]


def audit(session: Session, action: str, *, by: str, product_id: int | None = None, issue_id: int | None = None,
          post_id: int | None = None, details: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Write one audit row (also used by ``voxpop learn`` and the scheduler)."""
    session.add(AuditLog(at=at or _now(), by=by, action=action, product_id=product_id, issue_id=issue_id,
                         post_id=post_id, details=dict(details or {})))


# ---------------------------------------------------------------- posts


JobIds = Mapping[str, Collection[str]]
"""Configured job ids per product slug (see :func:`configured_jobs`)."""


def configured_jobs(products: Iterable[Any]) -> dict[str, frozenset[str]]:
    """The job ids of each configured product that has jobs (objects with ``slug`` and ``jobs``, as in
    ``config.products``); a product without configured jobs is left unchecked."""
    return {p.slug: frozenset(j.id for j in p.jobs) for p in products if p.jobs}


def _check_jobs(session: Session, post: Post, jobs: list[str], job_ids: JobIds | None) -> None:
    """Refuse job ids the post's product does not configure (products absent from ``job_ids`` are not checked)."""
    if job_ids is None or not jobs:
        return
    slug = session.scalar(select(Product.slug).where(Product.id == post.product_id))
    if slug is None or slug not in job_ids:
        return
    known = job_ids[slug]
    unknown = [j for j in jobs if j not in known]
    if unknown:
        configured = ", ".join(sorted(known)) or "none"
        raise CurationError(f"unknown job(s) for {slug}: {', '.join(unknown)} (configured: {configured})")


def label_post(session: Session, post_id: int, *, sentiment: str | None = None, need: str | None = None,
               jobs: list[str] | None = None, no_jobs: bool = False, step: str | None = None, by: str,
               job_ids: JobIds | None = None, only_changes: bool = False) -> Correction:
    """Correct a post's sentiment, need type, jobs and/or step (of the job map); the human label then wins everywhere.

    The model's classification is left as it was; each changed field gets a correction row (who,
    when, old value, new value). A post relabelled to a need that is not an unmet need leaves the
    issues it was in (their figures are recomputed); a sentiment change updates their figures.
    ``job_ids`` (configured job ids per product slug) refuses jobs the post's product does not have.
    ``only_changes`` (an edit form that sends every field) records only the fields whose value differs from
    the labels in force.
    """
    who = _who(by)
    post = session.get(Post, post_id)
    if post is None:
        raise CurationError(f"no post with id {post_id} (the id is the 'id' field of voxpop export)")
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise CurationError(f"sentiment must be one of {', '.join(SENTIMENTS)}, not {sentiment!r}")
    if need is not None and need not in NEED_TYPES:
        raise CurationError(f"need must be one of {', '.join(NEED_TYPES)}, not {need!r}")
    if jobs is not None and no_jobs:
        raise CurationError("give jobs or no_jobs, not both")
    new_jobs: list[str] | None = None
    if no_jobs:
        new_jobs = []
    elif jobs is not None:
        new_jobs = list(dict.fromkeys(j.strip() for j in jobs if j and j.strip()))
        bad = [j for j in new_jobs if not _JOB_ID.match(j)]
        if bad or not new_jobs:
            raise CurationError(f"bad job id(s): {', '.join(map(repr, bad)) or 'none given'} (use no_jobs for none)")
    if step is not None and not _STEP_ID.match(step):
        raise CurationError(f"bad step id {step!r} (a slug of letters, digits and '-', at most 40 characters)")
    if sentiment is None and need is None and new_jobs is None and step is None:
        raise CurationError(f"nothing to change on post {post_id}: give a sentiment, a need, jobs, no_jobs or a step")
    _check_jobs(session, post, new_jobs or [], job_ids)
    with rollups.tracking(session, [post_id]):  # the post's cells and its issues' days follow the new labels
        return _label(session, post, sentiment, need, new_jobs, step, who, only_changes)


def _label(session: Session, post: Post, sentiment: str | None, need: str | None, new_jobs: list[str] | None,
           step: str | None, who: str, only_changes: bool) -> Correction:
    post_id = post.id
    now = _now()
    cls = session.scalar(select(Classification).where(Classification.post_id == post_id))
    current = session.get(PostLabel, post_id)
    if only_changes:
        def same(name: str, value: Any) -> bool:
            return value is not None and _current(name, current, cls)[0] == value
        sentiment = None if same("sentiment", sentiment) else sentiment
        need = None if same("need_type", need) else need
        new_jobs = None if same("jobs", new_jobs) else new_jobs
        step = None if same("step", step) else step
        if sentiment is None and need is None and new_jobs is None and step is None:
            raise CurationError(f"post {post_id}: these are already its labels; nothing changed")
    wanted: dict[str, Any] = {"sentiment": sentiment, "need_type": need, "jobs": new_jobs, "step": step}
    changes = []
    for name, value in wanted.items():
        if value is None:
            continue
        old, source = _current(name, current, cls)
        changes.append(FieldChange(name, old, value, source))
        session.add(LabelCorrection(post_id=post_id, product_id=post.product_id, field=name, old_value=old,
                                    new_value=value, old_source=source, by=who, created_at=now))
    if current is None:
        current = PostLabel(post_id=post_id, updated_at=now, updated_by=who)
        session.add(current)
    if sentiment is not None:
        current.sentiment = sentiment
    if need is not None:
        current.need_type = need
        current.unmet_need = need in UNMET_NEEDS
    if new_jobs is not None:
        current.jobs = new_jobs
        current.top_job = new_jobs[0] if new_jobs else None
    if step is not None:
        current.step = step
    current.updated_at, current.updated_by = now, who
    session.flush()
    touched = _follow_label(session, post_id, need, sentiment)
    audit(session, "label", by=who, product_id=post.product_id, post_id=post_id, at=now,
          details={c.field: {"old": c.old, "new": c.new, "old_source": c.old_source} for c in changes}
          | ({"issues_touched": touched} if touched else {}))
    return Correction(post_id, post.product_id, tuple(changes), who, now, tuple(touched))


def label_posts(session: Session, post_ids: Sequence[int], *, sentiment: str | None = None,
                need: str | None = None, jobs: list[str] | None = None, no_jobs: bool = False, by: str,
                job_ids: JobIds | None = None) -> list[Correction]:
    """Relabel several posts alike (bulk relabel): one correction and one audit entry per post.

    Every post is checked before any is changed, so in the caller's one transaction either all are
    relabelled or (on the first refusal) none.
    """
    wanted = list(dict.fromkeys(int(p) for p in post_ids))
    if not wanted:
        raise CurationError("select at least one post to relabel")
    if len(wanted) > MAX_BULK:
        raise CurationError(f"relabel at most {MAX_BULK} posts at once (got {len(wanted)})")
    missing = [p for p in wanted if session.get(Post, p) is None]
    if missing:
        raise CurationError(f"no post with id {', '.join(map(str, missing))}")
    return [label_post(session, p, sentiment=sentiment, need=need, jobs=jobs, no_jobs=no_jobs, by=by,
                       job_ids=job_ids) for p in wanted]


def _current(name: str, label: PostLabel | None, cls: Classification | None) -> tuple[Any, str]:
    if label is not None and getattr(label, name) is not None:
        return getattr(label, name), "human"
    if cls is None:
        return None, "none"
    if name == "jobs":
        return [j["job"] if isinstance(j, dict) else j for j in (cls.jobs or [])], "model"
    return getattr(cls, name), "model"


def _follow_label(session: Session, post_id: int, need: str | None, sentiment: str | None) -> list[int]:
    """Keep issues true to a relabelled post: out of them when it is no longer an unmet need."""
    if need is None and sentiment is None:
        return []
    issue_ids = list(session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == post_id)))
    if not issue_ids:
        return []
    if need is not None and need not in UNMET_NEEDS:
        session.execute(delete(IssuePost).where(IssuePost.post_id == post_id))
    for issue in session.scalars(select(Issue).where(Issue.id.in_(issue_ids))):
        recompute_issue(session, issue)
        if issue.representative_post_id == post_id and need is not None and need not in UNMET_NEEDS:
            issue.representative_post_id = session.scalar(
                select(IssuePost.post_id).where(IssuePost.issue_id == issue.id).limit(1))
    return sorted(issue_ids)


# ---------------------------------------------------------------- issues


def _issue(session: Session, issue_id: int, *, live: bool = True) -> Issue:
    issue = session.get(Issue, issue_id)
    if issue is None:
        raise CurationError(f"no issue with id {issue_id} (see voxpop issues --product SLUG)")
    if live and issue.state == MERGED:
        into = session.scalar(select(IssueCuration.merged_into).where(IssueCuration.issue_id == issue_id))
        raise CurationError(f"issue {issue_id} was merged into issue {into}; act on that one")
    return issue


def _curation(session: Session, issue_id: int, who: str, now: datetime) -> IssueCuration:
    row = session.get(IssueCuration, issue_id)
    if row is None:
        row = IssueCuration(issue_id=issue_id, muted=False, updated_at=now, updated_by=who)
        session.add(row)
    row.updated_at, row.updated_by = now, who
    return row


def clean_text(text: str) -> str:
    """Text on one line without control or direction characters (safe on a terminal)."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def clean_label(label: str) -> str:
    """An issue label as people typed it, without control characters; one clear error when empty or long."""
    text = clean_text(label)
    if not text:
        raise CurationError("an issue label cannot be empty")
    if len(text) > MAX_LABEL:
        raise CurationError(f"an issue label has at most {MAX_LABEL} characters (got {len(text)})")
    return text


def rename_issue(session: Session, issue_id: int, label: str, *, by: str) -> IssueAction:
    """Give an issue a human label; detection keeps it as the issue grows."""
    who, text = _who(by), clean_label(label)
    issue = _issue(session, issue_id)
    now = _now()
    old = issue.label
    issue.label = text
    _curation(session, issue_id, who, now).label = text
    details = {"old": old, "new": text}
    audit(session, "rename", by=who, product_id=issue.product_id, issue_id=issue_id, details=details, at=now)
    return IssueAction("rename", issue_id, who, now, details)


def merge_issue(session: Session, issue_id: int, *, into: int, by: str) -> IssueAction:
    """Merge an issue into another: its posts move there and its id never takes posts or alerts again."""
    who = _who(by)
    if issue_id == into:
        raise CurationError(f"cannot merge issue {issue_id} into itself")
    source, target = _issue(session, issue_id), _issue(session, into, live=False)
    if target.state == MERGED:
        went = session.scalar(select(IssueCuration.merged_into).where(IssueCuration.issue_id == into))
        raise CurationError(f"cannot merge into issue {into}: it was merged into issue {went}; merge into {went}")
    if source.product_id != target.product_id:
        raise CurationError(f"issues {issue_id} and {into} belong to different products; merge within one product, "
                            f"or share a theme: voxpop issue theme {issue_id} --to THEME_ID (see voxpop themes)")
    now = _now()
    moved = list(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == issue_id)))
    have = set(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == into)))
    for post_id, similarity in session.execute(
            select(IssuePost.post_id, IssuePost.similarity).where(IssuePost.issue_id == issue_id)).tuples():
        if post_id not in have:
            session.add(IssuePost(issue_id=into, post_id=post_id, similarity=similarity))
    session.execute(delete(IssuePost).where(IssuePost.issue_id == issue_id))
    session.flush()
    rollups.refresh_issues(session, [issue_id, into])
    if target.state in ("candidate", "resolved") and source.state in ACTIVE_STATES:
        target.state, target.state_changed_at = source.state, now
    recompute_issue(session, target)
    if target.representative_post_id is None:
        target.representative_post_id = source.representative_post_id
    old_state = source.state
    source.state, source.state_changed_at, source.size = MERGED, now, 0
    source.daily_counts = {}
    _curation(session, issue_id, who, now).merged_into = into
    # Issues merged into the source earlier now point at the survivor directly.
    session.execute(update(IssueCuration).where(IssueCuration.merged_into == issue_id).values(merged_into=into))
    details = {"into": into, "posts": len(moved), "old_state": old_state}
    audit(session, "merge", by=who, product_id=source.product_id, issue_id=issue_id, details=details, at=now)
    audit(session, "merge", by=who, product_id=target.product_id, issue_id=into, at=now,
          details={"from": issue_id, "posts": len(moved)})
    return IssueAction("merge", issue_id, who, now, details)


SPLIT_MIN_POSTS = AlertSpec().min_count  # a split-off group smaller than an issue's minimum is no issue
NOT_AN_ISSUE, KEPT_OUT = "not_an_issue", "split"  # PostExclusion.reason


def _members_to_take(session: Session, issue_id: int, post_ids: Sequence[int], verb: str,
                     instead: str) -> tuple[list[int], set[int]]:
    """The named posts (each a member of the issue, not all of them) and the issue's members."""
    wanted = list(dict.fromkeys(int(p) for p in post_ids))
    if not wanted:
        raise CurationError(f"name the posts to {verb} (post ids of the issue)")
    members = set(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == issue_id)))
    missing = [p for p in wanted if p not in members]
    if missing:
        raise CurationError(f"post(s) {', '.join(map(str, missing))} are not in issue {issue_id}")
    if len(wanted) == len(members):
        raise CurationError(f"taking every post out of issue {issue_id} would leave it empty; {instead}")
    return wanted, members


def _take_out(session: Session, issue: Issue, wanted: list[int], members: set[int], reason: str, who: str,
              now: datetime) -> None:
    """Remove posts from an issue and mark them so detection never puts them into an issue again."""
    session.execute(delete(IssuePost).where(IssuePost.issue_id == issue.id, IssuePost.post_id.in_(wanted)))
    for post_id in wanted:
        row = session.get(PostExclusion, post_id)
        if row is None:
            session.add(PostExclusion(post_id=post_id, issue_id=issue.id, reason=reason, at=now, by=who))
        else:
            row.issue_id, row.reason, row.at, row.by = issue.id, reason, now, who
    session.flush()
    rollups.refresh_issues(session, [issue.id])
    recompute_issue(session, issue)
    if issue.representative_post_id in wanted:
        issue.representative_post_id = next(iter(sorted(members - set(wanted))), None)


def not_an_issue(session: Session, issue_id: int, *, post_ids: Sequence[int], by: str) -> IssueAction:
    """Say posts of an issue are not an issue: they leave it, and detection never puts them into one again."""
    who = _who(by)
    issue = _issue(session, issue_id)
    wanted, members = _members_to_take(session, issue_id, post_ids, "mark as not an issue",
                                       "resolve or mute it instead")
    now = _now()
    _take_out(session, issue, wanted, members, NOT_AN_ISSUE, who, now)
    for post_id in wanted:
        audit(session, "not_an_issue", by=who, product_id=issue.product_id, post_id=post_id, at=now,
              details={"from_issue": issue_id})  # the post's history; the issue's has one entry below
    details = {"posts": wanted, "size": issue.size}
    audit(session, "not_an_issue", by=who, product_id=issue.product_id, issue_id=issue_id, details=details, at=now)
    return IssueAction("not_an_issue", issue_id, who, now, details)


def split_issue(session: Session, issue_id: int, *, post_ids: list[int], by: str) -> int | None:
    """Move the given posts of an issue into a new issue; returns the new issue's id.

    A group smaller than an issue's minimum (``[alerts].min_count``) makes no issue: its posts leave the
    issue unassigned, detection keeps them out of issues, and None is returned.
    """
    from alerts.labels import label_issue, name_words

    who = _who(by)
    issue = _issue(session, issue_id)
    wanted, members = _members_to_take(session, issue_id, post_ids, "split off", "rename it instead")
    now = _now()
    if len(wanted) < SPLIT_MIN_POSTS:  # too small to be an issue: no new issue, no noise
        _take_out(session, issue, wanted, members, KEPT_OUT, who, now)
        audit(session, "split", by=who, product_id=issue.product_id, issue_id=issue_id, at=now,
              details={"new_issue": None, "posts": wanted, "unassigned": wanted, "min_posts": SPLIT_MIN_POSTS})
        return None
    texts = [t for (t,) in session.execute(select(Post.text).where(Post.id.in_(wanted)))]
    background = [t for (t,) in session.execute(
        select(Post.text).join(PostProduct, and_(PostProduct.post_id == Post.id,
                                                 PostProduct.product_id == issue.product_id))
        .order_by(Post.id.desc()).limit(1000))]
    # Words only (no encoder here): the same labeller as detection, without the embedding re-ranking.
    product_name = session.scalar(select(Product.name).where(Product.id == issue.product_id))
    label, keywords = label_issue([t or "" for t in texts], None, background, None, name_words(product_name))
    state = issue.state if issue.state in ACTIVE_STATES else "ongoing"
    new = Issue(product_id=issue.product_id, label=label or f"split of issue {issue_id}", keywords=keywords,
                state=state, state_changed_at=now, size=0, daily_counts={}, stats={})
    session.add(new)
    session.flush()
    similarity = {p: s for p, s in session.execute(select(IssuePost.post_id, IssuePost.similarity).where(
        IssuePost.issue_id == issue_id, IssuePost.post_id.in_(wanted)))}
    session.execute(delete(IssuePost).where(IssuePost.issue_id == issue_id, IssuePost.post_id.in_(wanted)))
    session.add_all(IssuePost(issue_id=new.id, post_id=p, similarity=similarity.get(p, 0.0)) for p in wanted)
    session.flush()
    rollups.refresh_issues(session, [issue_id, new.id])
    recompute_issue(session, new)
    recompute_issue(session, issue)
    new.stats = {**new.stats, "labelled_size": new.size}
    new.representative_post_id = wanted[0]
    if issue.representative_post_id in wanted:
        issue.representative_post_id = next(iter(sorted(members - set(wanted))), None)
    audit(session, "split", by=who, product_id=issue.product_id, issue_id=issue_id, at=now,
          details={"new_issue": new.id, "posts": wanted})
    audit(session, "split", by=who, product_id=issue.product_id, issue_id=new.id, at=now,
          details={"from": issue_id, "posts": wanted, "label": new.label})
    return new.id


def mute_issue(session: Session, issue_id: int, *, until: date | None, by: str,
               today: date | None = None) -> IssueAction:
    """Mute an issue's alerts until ``until`` (alerts resume on that day) or, with None, until unmuted.

    ``until`` must come after ``today`` (default: today in UTC; backtests and replays pass their own day).
    """
    who = _who(by)
    issue = _issue(session, issue_id)
    if isinstance(until, datetime):
        until = until.date()
    now = _now()
    if until is not None and until <= (today or now.date()):
        raise CurationError(f"mute until {until.isoformat()}: that day has come already; give a later date "
                            f"(alerts resume on it) or none to mute until unmuted")
    row = _curation(session, issue_id, who, now)
    row.muted, row.muted_until = True, until
    details = {"until": until.isoformat() if until else None}
    audit(session, "mute", by=who, product_id=issue.product_id, issue_id=issue_id, details=details, at=now)
    return IssueAction("mute", issue_id, who, now, details)


def unmute_issue(session: Session, issue_id: int, *, by: str) -> IssueAction:
    """Let a muted issue alert again."""
    who = _who(by)
    issue = _issue(session, issue_id)
    now = _now()
    row = session.get(IssueCuration, issue_id)
    if row is None or not row.muted:
        raise CurationError(f"issue {issue_id} is not muted")
    row.muted, row.muted_until, row.updated_at, row.updated_by = False, None, now, who
    audit(session, "unmute", by=who, product_id=issue.product_id, issue_id=issue_id, at=now)
    return IssueAction("unmute", issue_id, who, now)


def resolve_issue(session: Session, issue_id: int, *, by: str) -> IssueAction:
    """Mark an issue resolved by hand; if its complaint comes back, detection reopens it."""
    who = _who(by)
    issue = _issue(session, issue_id)
    if issue.state == "resolved":
        raise CurationError(f"issue {issue_id} is already resolved")
    now = _now()
    old = issue.state
    issue.state, issue.state_changed_at = "resolved", now
    _curation(session, issue_id, who, now).resolved_at = now
    details = {"old_state": old}
    audit(session, "resolve", by=who, product_id=issue.product_id, issue_id=issue_id, details=details, at=now)
    return IssueAction("resolve", issue_id, who, now, details)


def reopen_issue(session: Session, issue_id: int, *, by: str) -> IssueAction:
    """Reopen a resolved issue by hand (state ``reopened``)."""
    who = _who(by)
    issue = _issue(session, issue_id)
    if issue.state != "resolved":
        raise CurationError(f"issue {issue_id} is not resolved (it is {issue.state}); only resolved issues reopen")
    now = _now()
    issue.state, issue.state_changed_at = "reopened", now
    _curation(session, issue_id, who, now).resolved_at = None
    audit(session, "reopen", by=who, product_id=issue.product_id, issue_id=issue_id, at=now)
    return IssueAction("reopen", issue_id, who, now)


# ---------------------------------------------------------------- history


def history(session: Session, *, issue_id: int | None = None, post_id: int | None = None,
            limit: int | None = None) -> list[AuditEntry]:
    """Audit entries, oldest first: of one issue, of one post, of both (either matches), or all."""
    query = select(AuditLog)
    conds = []
    if issue_id is not None:
        conds.append(AuditLog.issue_id == issue_id)
    if post_id is not None:
        conds.append(AuditLog.post_id == post_id)
    if conds:
        query = query.where(or_(*conds))
    query = query.order_by(AuditLog.id)
    if limit is not None:
        query = query.order_by(None).order_by(AuditLog.id.desc()).limit(limit)
    rows = list(session.scalars(query))
    if limit is not None:
        rows.reverse()
    return [AuditEntry(r.id, r.at, r.by, r.action, r.product_id, r.issue_id, r.post_id, dict(r.details or {}))
            for r in rows]


def corrections_since(session: Session, product_id: int, after_id: int = 0) -> int:
    """How many corrections a product received after correction ``after_id`` (``learn`` is due when > 0)."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(LabelCorrection).where(
        LabelCorrection.product_id == product_id, LabelCorrection.id > after_id)) or 0)


def label_source_of(session: Session, post_ids: Sequence[int]) -> dict[int, str]:
    """``human`` or ``model`` per post."""
    human = set(session.scalars(select(PostLabel.post_id).where(PostLabel.post_id.in_(list(post_ids)))))
    return {p: "human" if p in human else "model" for p in post_ids}


# ---------------------------------------------------------------- themes across products (issue 27)


def set_issue_theme(session: Session, issue_id: int, *, to: int | None = None, new: str | None = None,
                    none: bool = False, by: str) -> IssueAction:
    """Place an issue in a theme by hand: an existing one (``to``), a new one named ``new``, or none.

    The automatic theme pass never moves an issue a person placed (``issues.theme_by``), and never renames
    or deletes a theme a person made.
    """
    from store.models import Theme

    who = _who(by)
    if sum((to is not None, new is not None, bool(none))) != 1:
        raise CurationError("give exactly one of --to THEME_ID, --new LABEL or --none")
    issue = _issue(session, issue_id)
    now = _now()
    old = issue.theme_id
    old_label = session.scalar(select(Theme.label).where(Theme.id == old)) if old is not None else None
    if to is not None:
        theme = session.get(Theme, to)
        if theme is None:
            raise CurationError(f"no theme with id {to} (see voxpop themes)")
    elif new is not None:
        theme = Theme(label=clean_label(new), created_at=now, updated_at=now, curated_by=who, curated_at=now)
        session.add(theme)
        session.flush()
    else:
        theme = None
    issue.theme_id, issue.theme_by = (theme.id if theme is not None else None), who
    details = {"old": old, "old_label": old_label, "new": theme.id if theme is not None else None,
               "label": theme.label if theme is not None else None}
    audit(session, "theme", by=who, product_id=issue.product_id, issue_id=issue_id, details=details, at=now)
    return IssueAction("theme", issue_id, who, now, details)
