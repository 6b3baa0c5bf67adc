"""Edit history: a post's earlier versions (``post_revisions``) and the post as it stood at a date.

When a crawl or import brings a changed post, :func:`keep_revision` copies the version about to be replaced
(its text, title, rating, version, when it was first seen, and the model's reading of it) in the same
statement batch as the update (``store.repo.upsert_posts``). The post row always shows the latest version.

:func:`as_of_view` gives query columns for "the post as it was at ``as_of``": the current row when it was
fetched by then, else the first revision replaced after ``as_of`` (versions tile time, so that is the one in
force; before the first known version the earliest is the best we know).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, insert, literal, select
from sqlalchemy.orm import Session, aliased

from store.models import Classification, Post, PostRevision


def keep_revision(session: Session, post_ids: Sequence[int], replaced_at: datetime) -> int:
    """Copy the current version of each post in ``post_ids`` into ``post_revisions`` (before it is updated)."""
    if not post_ids:
        return 0
    source = (
        select(Post.id, Post.text, Post.title, Post.rating, Post.version, Post.content_hash, Post.fetched_at,
               literal(replaced_at, PostRevision.replaced_at.type), Classification.model_version,
               Classification.sentiment, Classification.need_type, Classification.unmet_need,
               Classification.evidence, Classification.embedding)
        .outerjoin(Classification, Classification.post_id == Post.id)
        .where(Post.id.in_(list(post_ids)))
    )
    columns = ["post_id", "text", "title", "rating", "version", "content_hash", "seen_at", "replaced_at",
               "model_version", "sentiment", "need_type", "unmet_need", "evidence", "embedding"]
    result = session.execute(insert(PostRevision).from_select(columns, source))
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class AsOf:
    """Columns of a post as it stood at a date; join with :meth:`join` (an outer join on the revision)."""

    revision: Any  # the aliased PostRevision in force (NULL columns when the current row is)
    as_of: datetime

    def join(self, query: Any) -> Any:
        r = self.revision
        later = aliased(PostRevision)
        newer_in_force = select(later.id).where(later.post_id == r.post_id, later.replaced_at > self.as_of,
                                                later.replaced_at < r.replaced_at).exists()
        return query.outerjoin(r, and_(r.post_id == Post.id, Post.fetched_at > self.as_of,
                                       r.replaced_at > self.as_of, ~newer_in_force))

    def value(self, revision_column: Any, current: Any) -> Any:
        """``revision_column`` where a revision is in force, else ``current`` (unlabelled, for expressions)."""
        return case((self.revision.id.is_not(None), revision_column), else_=current)

    def pick(self, revision_column: Any, current: Any, label: str) -> Any:
        """:meth:`value` labelled as a result column."""
        return self.value(revision_column, current).label(label)

    def read(self, current: Any, name: str) -> Any:
        return self.pick(getattr(self.revision, name), current, name)

    @property
    def used(self) -> Any:
        """True where the post is read from an earlier version."""
        return self.revision.id.is_not(None)


def as_of_view(as_of: datetime) -> AsOf:
    """A fresh :class:`AsOf` for ``as_of`` (each query needs its own alias)."""
    return AsOf(aliased(PostRevision), as_of)


def revisions_of(session: Session, post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Earlier versions of each post, oldest first, as plain data (text, title, rating, version, seen, replaced)."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not post_ids:
        return out
    rows = session.execute(
        select(PostRevision.post_id, PostRevision.text, PostRevision.title, PostRevision.rating,
               PostRevision.version, PostRevision.seen_at, PostRevision.replaced_at)
        .where(PostRevision.post_id.in_(list(post_ids))).order_by(PostRevision.post_id, PostRevision.replaced_at))
    for r in rows:
        out.setdefault(r.post_id, []).append({
            "text": r.text, "title": r.title, "rating": r.rating, "version": r.version,
            "seen_at": r.seen_at.isoformat() if r.seen_at else None,
            "replaced_at": r.replaced_at.isoformat() if r.replaced_at else None})
    return out


def with_revisions(session: Session, rows: Iterable[dict[str, Any]], batch: int = 500) -> Iterator[dict[str, Any]]:
    """Export rows (with their ``id``) each given ``revisions``: the post's earlier versions, oldest first."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            yield from _attach(session, chunk)
            chunk = []
    yield from _attach(session, chunk)


def _attach(session: Session, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    found = revisions_of(session, [r["id"] for r in rows])
    for row in rows:
        row["revisions"] = found.get(row["id"], [])
        yield row


__all__ = ["AsOf", "as_of_view", "keep_revision", "revisions_of", "with_revisions"]
