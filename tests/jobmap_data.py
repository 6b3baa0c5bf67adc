"""A small store for the job map: two products with posts placed on steps (figures worked out by hand).

The classifier side fills ``classifications.step``; here the rows are written directly, step and all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from store import rollups
from store.models import Classification, Issue, IssuePost, Post, PostProduct, Product

SINCE = datetime(2026, 3, 2, tzinfo=UTC)
UNTIL = datetime(2026, 3, 30, tzinfo=UTC)
JOBS = {"ours": [], "rival": []}
_ids = count(1)

# (product, step, negative, positive, neutral); every post is on job "export" unless said otherwise.
CELLS = [
    ("ours", "set-up", 15, 10, 5),   # 30 posts, 50% negative
    ("rival", "set-up", 3, 20, 7),   # 30 posts, 10% negative -> a real gap at set-up
    ("ours", "use", 5, 3, 2),        # 10 posts: too few
    ("rival", "use", 4, 4, 2),
    ("ours", "leave", 10, 20, 10),   # 40 posts, 25% negative
    ("rival", "leave", 12, 20, 8),   # 40 posts, 30% negative -> could be chance
    ("ours", None, 1, 3, 1),         # 5 posts not placed on a step
]


def post(session: Session, product: Product, when: datetime, *, step: str | None, sentiment: str,
         text: str = "a review", job: str | None = "export", unmet: bool = False,
         need: str = "praise") -> Post:
    n = next(_ids)
    p = Post(source="appstore", external_id=f"jm-{product.slug}-{n}", product_id=product.id, text=text,
             created_at=when, fetched_at=when, content_hash=f"jm{n}", status="classified")
    session.add(p)
    session.flush()
    session.add(PostProduct(post_id=p.id, product_id=product.id))
    session.add(Classification(post_id=p.id, model_version="test", sentiment=sentiment, sentiment_score=0.9,
                               need_type=need, need_score=0.5, unmet_need=unmet,
                               jobs=[{"job": job, "score": 0.8, "evidence": text}] if job else [], top_job=job,
                               evidence=text, classified_at=when, step=step, step_score=0.7 if step else None))
    return p


def build(session: Session) -> dict[str, list[Post]]:
    """The products and posts of CELLS, and an issue on ours' set-up posts; returns posts by (slug, step)."""
    products = {"ours": Product(slug="ours", name="Our Notes", own=True, created_at=SINCE),
                "rival": Product(slug="rival", name="Rival", own=False, created_at=SINCE)}
    session.add_all(products.values())
    session.flush()
    when = SINCE + timedelta(days=3)
    made: dict[str, list[Post]] = {}
    for slug, step, neg, pos, neu in CELLS:
        key = f"{slug}:{step}"
        made[key] = []
        for sentiment, k in (("negative", neg), ("positive", pos), ("neutral", neu)):
            for _ in range(k):
                unmet = sentiment == "negative"
                made[key].append(post(session, products[slug], when, step=step, sentiment=sentiment, unmet=unmet,
                                      need="problem" if unmet else "praise",
                                      text="import fails" if unmet else "fine"))
    setup_neg = made["ours:set-up"][:10]
    issue = Issue(product_id=products["ours"].id, label="import fails", keywords=["import", "fail"], state="new",
                  need_type="problem", size=len(setup_neg), daily_counts={}, stats={})
    session.add(issue)
    session.flush()
    for p in setup_neg:
        session.add(IssuePost(issue_id=issue.id, post_id=p.id, similarity=0.9))
    # A candidate issue never shows as a step's top need.
    cand = Issue(product_id=products["ours"].id, label="maybe something", keywords=[], state="candidate",
                 size=12, daily_counts={}, stats={})
    session.add(cand)
    session.flush()
    for p in made["ours:leave"][:12]:
        session.add(IssuePost(issue_id=cand.id, post_id=p.id, similarity=0.9))
    session.flush()
    rollups.rebuild(session)  # rows written past the store layer: the rollups are recomputed once
    return made
