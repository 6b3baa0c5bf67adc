"""``voxpop review``: the posts whose correction would help the product's model most.

Candidates are the product's newest classified posts that nobody has labelled. Before the product's first
correction the queue is its most typical posts, kept diverse; after it, each is scored with
the product's current layer (``voxpop learn``) over its stored embedding: how unsure the need type and
sentiment are, how typical the post is of the product, and whether it sits in an open issue (its label
decides what that issue counts). Near-duplicates of a post already proposed are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from classify.adapt import ProductLayer, rank_for_review, shared_probabilities
from classify.labels import NEED_TYPES, SENTIMENTS
from store.models import (
    POST_CLASSIFIED,
    Classification,
    Issue,
    IssuePost,
    Post,
    PostLabel,
    Product,
    ProductModel,
)
from voxpop.curation import CurationError, clean_text
from voxpop.learning import resolve_classifier

if TYPE_CHECKING:
    from classify import Classifier
    from store.db import Store

CANDIDATES = 5000  # newest unlabelled posts considered
ACTIVE = ("new", "rising", "ongoing", "reopened")
ISSUE_INFLUENCE = 0.25


@dataclass(frozen=True)
class ReviewItem:
    """A post to label, with the model's guess and why it was proposed."""

    post_id: int
    sentiment: str
    sentiment_p: float
    need_type: str
    need_p: float
    jobs: list[str]
    issue_id: int | None
    score: float
    reason: str
    snippet: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def review_queue(store: Store, product_slug: str, *, n: int = 20,
                 classifier: Classifier | Callable[[], Classifier] | None = None,
                 config: Any = None) -> list[ReviewItem]:
    """Up to ``n`` posts of a product to label next, best first."""
    with store.sessions() as session:
        product = session.scalar(select(Product).where(Product.slug == product_slug))
        if product is None:
            raise CurationError(f"unknown product: {product_slug} (add it to voxpop.toml or import into it)")
        rows = session.execute(
            select(Post.id, Post.text, Post.rating, Classification.embedding, Classification.jobs)
            .join(Classification, Classification.post_id == Post.id)
            .outerjoin(PostLabel, PostLabel.post_id == Post.id)
            .where(Post.product_id == product.id, Post.status == POST_CLASSIFIED, PostLabel.post_id.is_(None),
                   Classification.embedding.is_not(None))
            .order_by(Post.id.desc()).limit(CANDIDATES)
        ).all()
        issue_of = dict(session.execute(
            select(IssuePost.post_id, IssuePost.issue_id).join(Issue, Issue.id == IssuePost.issue_id)
            .where(Issue.product_id == product.id, Issue.state.in_(ACTIVE))).tuples().all())
        model = session.get(ProductModel, product.id)
        weights, base = (model.weights, model.base_version) if model is not None else (None, None)
        corrected = session.scalar(select(PostLabel.post_id).join(Post, Post.id == PostLabel.post_id)
                                   .where(Post.product_id == product.id).limit(1)) is not None
    if not rows:
        return []
    classifier = resolve_classifier(classifier, config)
    vecs = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows])
    sent_p, need_p = shared_probabilities(classifier, vecs, [r.rating for r in rows])
    if weights and base == classifier.model_version:
        sent_p, need_p = ProductLayer.from_bytes(weights).adjust(vecs, sent_p, need_p)
    influence = np.asarray([ISSUE_INFLUENCE if r.id in issue_of else 0.0 for r in rows], dtype=np.float32)
    out = []
    for pick in rank_for_review(vecs, sent_p, need_p, n, influence=influence, cold_start=not corrected):
        r = rows[pick.index]
        s, q = sent_p[pick.index], need_p[pick.index]
        text = clean_text(r.text or "")
        out.append(ReviewItem(
            post_id=r.id, sentiment=SENTIMENTS[int(s.argmax())], sentiment_p=round(float(s.max()), 3),
            need_type=NEED_TYPES[int(q.argmax())], need_p=round(float(q.max()), 3),
            jobs=[j["job"] if isinstance(j, dict) else str(j) for j in (r.jobs or [])],
            issue_id=issue_of.get(r.id), score=pick.score,
            reason=pick.reason + (f" #{issue_of[r.id]}" if r.id in issue_of else ""),
            snippet=text[:117] + "..." if len(text) > 120 else text,
        ))
    return out
