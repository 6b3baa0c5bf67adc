"""Queries and writes on the store. Functions take a session and never commit: callers own transactions.

Rollups rule (issue 29): every write to ``posts``, ``post_products``, ``classifications``, ``post_labels``
or ``issue_posts`` goes through ``store.rollups.tracking`` (issue membership: ``rollups.refresh_issues``)
in the same transaction, so the rollups the report and the dashboard read stay exact. The writers here
(:func:`upsert_posts`, :func:`delete_posts`) do; so do ``store.claims.save_classifications``,
``voxpop.curation``, ``voxpop.learning`` and ``alerts.issues``. A new writer calls the same functions;
the property test in ``tests/test_store_rollups.py`` shows what a missed one looks like.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from store import rollups
from store.models import (
    POST_PENDING,
    Classification,
    CrawlRun,
    IssuePost,
    Post,
    PostExclusion,
    PostLabel,
    PostProduct,
    Product,
    Source,
)
from store.revisions import keep_revision
from voxpop.core.post import PostRecord  # noqa: F401 - the post contract, re-exported for store callers
from voxpop.core.timeutil import utcnow


@dataclass
class UpsertResult:
    """What an upsert did: rows inserted, rows changed (edited posts), rows already identical, new product links."""

    stored: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int] = field(default_factory=list)
    linked: int = 0  # post-to-product links made (an unchanged post linked to another product counts here)

    def add(self, other: UpsertResult) -> None:
        self.stored += other.stored
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.linked += other.linked
        self.ids.extend(other.ids)


def ensure_product(session: Session, slug: str, name: str | None = None, own: bool = False) -> Product:
    """Return the product with ``slug``, creating or updating it to match the config.

    Safe when several processes (crawl workers) create the same product at once: the insert
    is ``ON CONFLICT DO NOTHING`` and the row is read back either way.
    """
    product = session.scalar(select(Product).where(Product.slug == slug))
    if product is None:
        session.execute(
            _insert(session)(Product)
            .values(slug=slug, name=name or slug, own=own, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["slug"])
        )
        product = session.scalars(select(Product).where(Product.slug == slug)).one()
    elif (name and product.name != name) or product.own != own:
        product.name = name or product.name
        product.own = own
    return product


def get_product(session: Session, slug: str) -> Product | None:
    """The product with ``slug`` or None."""
    return session.scalar(select(Product).where(Product.slug == slug))


def ensure_source(session: Session, product_id: int, name: str, spider: str,
                  params: dict[str, Any] | None = None) -> Source:
    """Return the source ``name`` of a product, creating it on first use (race-safe like ensure_product)."""
    query = select(Source).where(Source.product_id == product_id, Source.name == name)
    source = session.scalar(query)
    if source is None:
        session.execute(
            _insert(session)(Source)
            .values(product_id=product_id, name=name, spider=spider, params=dict(params or {}),
                    high_water={}, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["product_id", "name"])
        )
        source = session.scalars(query).one()
    elif params is not None and source.params != params:
        source.params = dict(params)
    return source


def _insert(session: Session) -> Any:
    """The dialect's INSERT (with ON CONFLICT); imported here so the CLI starts without both dialects."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    return dialect.insert


def upsert_posts(session: Session, product_id: int, records: Sequence[PostRecord],
                 source_id: int | None = None) -> UpsertResult:
    """Insert new posts and update edited ones, keyed on ``(source, external_id)``.

    An edited post (different text, title, rating or version) keeps its earlier version in
    ``post_revisions``, is updated and set back to pending so it is classified again. Identical
    posts are left alone. Reruns never duplicate.
    """
    result = UpsertResult()
    if not records:
        return result
    by_key: dict[tuple[str, str], PostRecord] = {}
    for record in records:  # last one wins inside a batch
        by_key[(record.source, record.external_id)] = record
    with rollups.tracking(session, ()) as tracked:
        _upsert(session, product_id, by_key, source_id, result, tracked)
    return result


def _upsert(session: Session, product_id: int, by_key: dict[tuple[str, str], PostRecord], source_id: int | None,
            result: UpsertResult, tracked: rollups.Tracker) -> None:
    existing = {
        (row.source, row.external_id): (row.id, row.content_hash)
        for row in session.execute(
            select(Post.source, Post.external_id, Post.id, Post.content_hash).where(
                tuple_(Post.source, Post.external_id).in_(list(by_key))
            )
        )
    }
    # Rollups: the posts that exist take their old contribution out, every post written puts its new one in.
    tracked.add(post_id for post_id, _ in existing.values())
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    changed: list[tuple[int, dict[str, Any]]] = []
    for key, record in by_key.items():
        digest = record.content_hash()
        values = _post_values(record, digest)
        if key not in existing:
            new_rows.append({**values, "product_id": product_id, "source_id": source_id, "fetched_at": now,
                             "status": POST_PENDING})
            continue
        post_id, old_digest = existing[key]
        result.ids.append(post_id)
        if old_digest == digest:
            result.unchanged += 1
            continue
        changed.append((post_id, values))
    if changed:  # an edited post keeps its earlier version (store.revisions), then shows the new one
        keep_revision(session, [post_id for post_id, _ in changed], now)
    for post_id, values in changed:
        session.execute(update(Post).where(Post.id == post_id).values(**values, fetched_at=now, status=POST_PENDING,
                                                                      claimed_at=None))
        result.updated += 1
    if new_rows:
        insert = _insert(session)
        # Core insert on the table (not the ORM bulk path): executemany, several times faster.
        stmt = insert(Post.__table__).on_conflict_do_nothing(index_elements=["source", "external_id"])
        session.execute(stmt, new_rows)
        keys = [(row["source"], row["external_id"]) for row in new_rows]
        inserted = session.execute(
            select(Post.id, Post.source, Post.external_id, Post.fetched_at)
            .where(tuple_(Post.source, Post.external_id).in_(keys))
        ).all()
        result.ids.extend(row.id for row in inserted)
        # A concurrent writer may have won the race for some keys: count only what we wrote.
        ours = {(row.source, row.external_id): row.id for row in inserted if row.fetched_at == now}
        result.stored += len(ours)
        result.unchanged += len(new_rows) - result.stored
        # Rollups: what we inserted counts from the values written (pending, no labels); a post a
        # concurrent writer stored is counted by that writer.
        tracked.inserted([_new_post(ours[(v["source"], v["external_id"])], v)
                          for v in new_rows if (v["source"], v["external_id"]) in ours],
                         {post_id: {product_id, *by_key[key].extra_product_ids} for key, post_id in ours.items()})
        tracked.add(row.id for row in inserted if row.fetched_at != now)  # before we link them below
    result.linked = _link_products(session, by_key.values(), product_id, result.ids)


@dataclass(frozen=True)
class _NewPost:
    """A post as just inserted, in the shape ``rollups.add_rows`` reads (no classification or labels yet)."""

    id: int
    product_id: int
    created_at: Any
    source: str
    found_by: str | None
    version: str | None
    language: str | None
    rating: float | None
    status: str
    class_id: None = None
    sentiment: None = None
    need_type: None = None
    unmet_need: None = None
    top_job: None = None
    step: None = None


def _new_post(post_id: int, values: dict[str, Any]) -> _NewPost:
    return _NewPost(post_id, values["product_id"], values["created_at"], values["source"], values["found_by"],
                    values["version"], values["language"], values["rating"], values["status"])


def delete_posts(session: Session, post_ids: Sequence[int]) -> int:
    """Delete posts (their classification, labels, links and issue membership go with them)."""
    ids = list(post_ids)
    if not ids:
        return 0
    with rollups.tracking(session, ids):
        session.execute(delete(PostLabel).where(PostLabel.post_id.in_(ids)))
        session.execute(delete(Classification).where(Classification.post_id.in_(ids)))
        session.execute(delete(PostProduct).where(PostProduct.post_id.in_(ids)))
        session.execute(delete(IssuePost).where(IssuePost.post_id.in_(ids)))
        session.execute(delete(PostExclusion).where(PostExclusion.post_id.in_(ids)))
        result = session.execute(delete(Post).where(Post.id.in_(ids)))
    return int(getattr(result, "rowcount", 0) or 0)


def _post_values(record: PostRecord, digest: str) -> dict[str, Any]:
    return {
        "source": record.source, "external_id": record.external_id, "text": record.text, "url": record.url,
        "author": record.author, "title": record.title, "rating": record.rating, "created_at": record.created_at,
        "version": record.version, "language": record.language, "found_by": record.found_by, "raw": record.raw,
        "segments": record.segments or None, "content_hash": digest,
    }


def _link_products(session: Session, records: Iterable[PostRecord], product_id: int, post_ids: list[int]) -> int:
    """Link each post to its products; returns how many links were new (posts already stored count too)."""
    if not post_ids:
        return 0
    # Each post is linked to the crawled product and to its own extra products (not the batch's).
    wanted = {(r.source, r.external_id): {product_id, *r.extra_product_ids} for r in records}
    found = session.execute(
        select(Post.id, Post.source, Post.external_id).where(tuple_(Post.source, Post.external_id).in_(list(wanted)))
    ).all()
    have = set(session.execute(
        select(PostProduct.post_id, PostProduct.product_id).where(PostProduct.post_id.in_(post_ids))
    ).tuples())
    rows = [{"post_id": row.id, "product_id": pid} for row in found
            for pid in sorted(wanted.get((row.source, row.external_id), ())) if (row.id, pid) not in have]
    if rows:
        session.execute(_insert(session)(PostProduct.__table__).on_conflict_do_nothing(), rows)
    return len(rows)


def start_crawl_run(session: Session, spider: str, product_slug: str, source_id: int | None) -> CrawlRun:
    """Record that a crawl began; finish it with :func:`finish_crawl_run`."""
    run = CrawlRun(spider=spider, product_slug=product_slug, source_id=source_id, started_at=utcnow(),
                   status="running", stats={})
    session.add(run)
    session.flush()
    return run


def finish_crawl_run(session: Session, run_id: int, *, status: str, reason: str | None, stored: int, updated: int,
                     dropped: int, stats: dict[str, Any]) -> None:
    """Record how a crawl ended, with its counts and statistics."""
    run = session.get(CrawlRun, run_id)
    if run is None:
        return
    run.finished_at = utcnow()
    run.status, run.reason = status, reason
    run.stored, run.updated, run.dropped = stored, updated, dropped
    run.stats = stats
