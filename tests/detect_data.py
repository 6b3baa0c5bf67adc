"""Synthetic review streams for detection tests: topics as random unit vectors, posts as topic + noise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from alerts.detect import PostRow

DIM = 32
TOPIC_WORDS = [
    "battery drain", "sync fails", "login loop", "slow startup", "crash on open", "ads popup",
    "dark mode", "export csv", "font size", "offline mode", "widget missing", "password reset",
]


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def topics(rng: np.random.Generator, k: int = len(TOPIC_WORDS)) -> np.ndarray:
    return np.stack([unit(rng.normal(size=DIM)) for _ in range(k)])


def noisy(rng: np.random.Generator, topic: np.ndarray, noise: float = 0.55) -> np.ndarray:
    return unit(topic + noise * rng.normal(size=DIM) / np.sqrt(DIM))


def stream(days: int = 60, per_day: int = 80, seed: int = 7, start: date = date(2026, 1, 1),
           unmet_share: float = 0.3) -> list[PostRow]:
    """A steady stream: each day ``per_day`` posts (Poisson), a share of them unmet needs on stable topics."""
    rng = np.random.default_rng(seed)
    tops = topics(rng)
    weights = rng.dirichlet(np.ones(len(tops)) * 2)
    out: list[PostRow] = []
    pid = 0
    for d in range(days):
        day = start + timedelta(days=d)
        for _ in range(int(rng.poisson(per_day))):
            pid += 1
            at = datetime(day.year, day.month, day.day, int(rng.integers(0, 24)), int(rng.integers(0, 60)), tzinfo=UTC)
            unmet = bool(rng.random() < unmet_share)
            t = int(rng.choice(len(tops), p=weights))
            emb = noisy(rng, tops[t]) if unmet else unit(rng.normal(size=DIM))
            rating = float(rng.choice([1, 2])) if unmet else float(rng.choice([3, 4, 5, 5]))
            text = f"the {TOPIC_WORDS[t]} problem again" if unmet else "love this app works great"
            out.append(PostRow(id=pid, created_at=at, embedding=emb, unmet=unmet,
                               need_type="problem" if unmet else "none", rating=rating, negative=unmet, text=text,
                               version="1.0"))
    return out


def burst(first_id: int, day: date, count: int, seed: int = 99, text: str = "checkout button frozen after update",
          hours: tuple[int, ...] = (9, 10, 11, 12, 13, 14, 15, 16)) -> list[PostRow]:
    """``count`` posts about one brand-new topic on ``day``."""
    rng = np.random.default_rng(seed)
    topic = unit(rng.normal(size=DIM))
    out = []
    for i in range(count):
        at = datetime(day.year, day.month, day.day, hours[i % len(hours)], i % 60, tzinfo=UTC)
        out.append(PostRow(id=first_id + i, created_at=at, embedding=noisy(rng, topic), unmet=True,
                           need_type="problem", rating=1.0, negative=True, text=f"{text} number {i}", version="2.0"))
    return out


def insert_posts(store: Any, slug: str, posts: list[PostRow], *, own: bool = True, status: str = "classified",
                 url_base: str = "https://reviews.example/") -> int:
    """Write posts (and their classifications) for a product straight into the store; returns the product id."""
    from sqlalchemy import insert

    from store import rollups
    from store.models import Classification, Post, PostProduct, Product

    now = datetime.now(UTC)
    with store.transaction() as session:
        product = session.query(Product).filter_by(slug=slug).one_or_none()
        if product is None:
            product = Product(slug=slug, name=slug.capitalize(), own=own, created_at=now)
            session.add(product)
            session.flush()
        # Through the rollups, as the store's own writers do (the release watch reads its sizes there).
        with rollups.tracking(session) as tracker:
            session.execute(insert(Post), [
                {"id": p.id, "source": "test", "external_id": f"{slug}-{p.id}", "product_id": product.id,
                 "url": p.url or f"{url_base}{p.id}", "text": p.text, "rating": p.rating, "created_at": p.created_at,
                 "fetched_at": now, "version": p.version, "content_hash": str(p.id), "status": status} for p in posts])
            session.execute(insert(PostProduct), [{"post_id": p.id, "product_id": product.id} for p in posts])
            if status == "classified":
                session.execute(insert(Classification), [
                    {"post_id": p.id, "model_version": "test", "sentiment": "negative" if p.negative else "positive",
                     "sentiment_score": 0.9, "need_type": p.need_type or "none", "need_score": 0.9,
                     "unmet_need": p.unmet, "jobs": [], "classified_at": now, "evidence": p.evidence or None,
                     "embedding": None if p.embedding is None else np.asarray(p.embedding, np.float32).tobytes()}
                    for p in posts])
            tracker.created([p.id for p in posts])
        return product.id
