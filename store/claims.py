"""Claiming pending posts for classification, safely across several workers.

A worker claims a batch (status ``classifying`` with its token and a time), classifies it outside any
transaction, then saves the results only for the posts it still holds. A worker that dies leaves its
claim to expire after ``lease_s``; another worker then claims those posts again. On PostgreSQL the
claim uses ``FOR UPDATE SKIP LOCKED`` so concurrent workers never take the same post; SQLite has a
single writer, so a plain UPDATE is already exclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from store import rollups
from store.models import (
    POST_CLASSIFIED,
    POST_CLASSIFYING,
    POST_PENDING,
    POST_SKIPPED,
    Classification,
    Post,
)
from store.repo import utcnow

DEFAULT_LEASE_S = 600


@dataclass(frozen=True)
class ClaimedPost:
    """What the classifier needs of a claimed post."""

    id: int
    product_id: int
    title: str | None
    text: str
    rating: float | None
    language: str | None


@dataclass(frozen=True)
class ClassificationRow:
    """One classifier result to save for a claimed post."""

    post_id: int
    model_version: str
    sentiment: str
    sentiment_score: float
    need_type: str
    need_score: float
    unmet_need: bool
    jobs: list[dict[str, Any]]
    evidence: str | None
    embedding: bytes | None
    skipped: bool = False  # not English: stored and counted, not classified
    taxonomy: str | None = None  # hash of the product's jobs (and steps) the scores were computed against
    step: str | None = None  # the step of the customer's process (job map) the post sits on
    step_score: float | None = None
    # Each body sentence with its own sentiment ([{"text", "sentiment"}]) and the mixed flag (issue 28).
    sentences: list[dict[str, str]] | None = None
    mixed: bool | None = None


def _claimable(now: datetime, lease_s: int) -> Any:
    expired = now - timedelta(seconds=lease_s)
    return or_(Post.status == POST_PENDING, and_(Post.status == POST_CLASSIFYING, Post.claimed_at < expired))


def claim_pending(session: Session, worker: str, limit: int, *, lease_s: int = DEFAULT_LEASE_S,
                  product_ids: Sequence[int] | None = None) -> list[ClaimedPost]:
    """Claim up to ``limit`` pending posts (or posts whose claim expired) for ``worker``."""
    now = utcnow()
    query = select(Post.id).where(_claimable(now, lease_s)).order_by(Post.id).limit(limit)
    if product_ids:
        query = query.where(Post.product_id.in_(list(product_ids)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(Post).where(Post.id.in_(ids), _claimable(now, lease_s))
        .values(status=POST_CLASSIFYING, claimed_at=now, claimed_by=worker)
    )
    rows = session.execute(
        select(Post.id, Post.product_id, Post.title, Post.text, Post.rating, Post.language)
        .where(Post.id.in_(ids), Post.claimed_by == worker, Post.claimed_at == now)
        .order_by(Post.id)
    ).all()
    return [ClaimedPost(*row) for row in rows]


def save_classifications(session: Session, worker: str, rows: Sequence[ClassificationRow]) -> int:
    """Save results for the posts ``worker`` still holds; returns how many were saved.

    A post whose claim was taken over (our lease expired and another worker claimed it) is left to
    that worker, so each post ends with exactly one classification.
    """
    if not rows:
        return 0
    held = set(session.scalars(
        select(Post.id).where(Post.id.in_([r.post_id for r in rows]), Post.claimed_by == worker,
                              Post.status == POST_CLASSIFYING)
        .with_for_update() if session.get_bind().dialect.name == "postgresql" else
        select(Post.id).where(Post.id.in_([r.post_id for r in rows]), Post.claimed_by == worker,
                              Post.status == POST_CLASSIFYING)
    ))
    with rollups.tracking(session, held):
        return _save(session, rows, held)


def _save(session: Session, rows: Sequence[ClassificationRow], held: set[int]) -> int:
    now = utcnow()
    saved = 0
    for row in rows:
        if row.post_id not in held:
            continue
        status = POST_SKIPPED if row.skipped else POST_CLASSIFIED
        session.execute(update(Post).where(Post.id == row.post_id).values(status=status, claimed_by=None,
                                                                          claimed_at=None))
        if row.skipped:
            saved += 1
            continue
        values = dict(
            model_version=row.model_version, sentiment=row.sentiment, sentiment_score=row.sentiment_score,
            need_type=row.need_type, need_score=row.need_score, unmet_need=row.unmet_need, jobs=row.jobs,
            top_job=row.jobs[0]["job"] if row.jobs else None, evidence=row.evidence, embedding=row.embedding,
            classified_at=now, taxonomy=row.taxonomy, step=row.step, step_score=row.step_score,
            sentences=row.sentences, mixed=row.mixed,
        )
        existing = session.scalar(select(Classification).where(Classification.post_id == row.post_id))
        if existing is None:
            session.add(Classification(post_id=row.post_id, **values))
        else:
            for key, value in values.items():
                setattr(existing, key, value)
        saved += 1
    return saved


def requeue_older_models(session: Session, model_version: str, product_ids: Sequence[int] | None = None) -> int:
    """Set posts classified by another model version back to pending (``classify --reclassify``)."""
    # "<version>+<product>.<digest>" is the same shared model with a product's learnt layer (voxpop learn).
    tuned = Classification.model_version.startswith(model_version + "+", autoescape=True)
    older = select(Classification.post_id).where(Classification.model_version != model_version, ~tuned)
    stmt = update(Post).where(Post.id.in_(older), Post.status == POST_CLASSIFIED)
    if product_ids:
        stmt = stmt.where(Post.product_id.in_(list(product_ids)))
    result = session.execute(stmt.values(status=POST_PENDING, claimed_by=None, claimed_at=None))
    return int(getattr(result, "rowcount", 0) or 0)


def backlog(session: Session) -> dict[str, int]:
    """Posts by status (pending, classifying, classified, skipped)."""
    return {status: n for status, n in session.execute(select(Post.status, func.count()).group_by(Post.status))}
