"""Why an issue is ``reopened``, for its page: the action that reopened it, or the posts after the
resolution that brought it back.

The resolution time is the one detection kept when it reopened the issue (``Issue.stats["resolved_since"]``,
written by ``alerts.transitions.transition``), else the last hand resolution in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from store.models import AuditLog, Issue, IssuePost, Post
from voxpop.web.marks import issue_notes

SHOWN = 5  # posts listed on the page; the count says how many there are


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def reopen_reason(session: Session, issue_id: int) -> dict[str, Any] | None:
    """``{"text", "by": "action"|"posts", "resolved_at", "posts": [...], "count"}`` or None when not reopened."""
    issue = session.get(Issue, issue_id)
    if issue is None or issue.state != "reopened":
        return None
    text = issue_notes(session, [issue_id]).get(issue_id, {}).get("reopened", "reopened")
    last = session.scalar(select(AuditLog).where(AuditLog.issue_id == issue_id,
                                                 AuditLog.action.in_(("resolve", "reopen")))
                          .order_by(AuditLog.id.desc()).limit(1))
    kept = (issue.stats or {}).get("resolved_since")
    by_hand = last is not None and last.action == "reopen"
    if last is not None and by_hand and (not kept or issue.state_changed_at is None
                                         or _utc(last.at) >= _utc(issue.state_changed_at)):  # the action came last
        return {"text": text, "by": "action", "who": last.by, "at": _utc(last.at).isoformat(),
                "resolved_at": None, "posts": [], "count": 0}
    since: datetime | None = None
    if kept:
        since = _utc(datetime.fromisoformat(kept))
    elif last is not None:
        since = _utc(last.at)
    if since is None:
        return {"text": text, "by": "posts", "resolved_at": None, "posts": [], "count": 0}
    if by_hand:  # a hand reopen long ago; detection resolved and reopened it since
        text = f"came back after it was resolved on {since.date().isoformat()}"
    after = and_(IssuePost.issue_id == issue_id, Post.created_at > since)
    count = session.scalar(select(func.count()).select_from(Post).join(IssuePost, IssuePost.post_id == Post.id)
                           .where(after)) or 0
    posts = [{"post_id": pid, "date": _utc(created).date().isoformat() if created else None,
              "text": " ".join((body or "").split())[:240]}
             for pid, created, body in session.execute(
                 select(Post.id, Post.created_at, Post.text).join(IssuePost, IssuePost.post_id == Post.id)
                 .where(after).order_by(Post.created_at, Post.id).limit(SHOWN)).tuples()]
    return {"text": text, "by": "posts", "resolved_at": since.isoformat(), "posts": posts, "count": int(count)}
