"""A store that tells a story, for the headline and "where we lose" tests (figures worked out by hand).

Notely (ours) and Jotter over four weeks from Monday 2026-03-02, and the four weeks before:
- Notely's rating falls from 4.5 (60 posts: 30 of 5 stars, 30 of 4) to 2.5 (80 posts: 40 of 2, 40 of 3);
  its negative share rises from 6/60 (10%) to 40/80 (50%).
- Jotter stays at 50 posts rated 4 with 18 negative in both periods.
- "Share notes with my team": Notely 10 of 40 posts positive (25%), Jotter 30 of 40 (75%): a real loss.
  Notely's issue "Sharing link fails" holds 25 of its negative share posts (5 in the first half on 4.1.0,
  20 in the second half on 4.2.0). Jotter has a matching issue "Share link broken".
- "Capture an idea quickly before I forget it": Notely 9 of 12 positive, Jotter 2 of 10: too small to rank.
- Tiny: 5 posts now, 3 before: too few to tell.
- Each product's first post is from 2026-02-01, the day before the previous period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from store import rollups
from store.models import Classification, Issue, IssuePost, Post, PostProduct, Product

SINCE = datetime(2026, 3, 2, tzinfo=UTC)
UNTIL = datetime(2026, 3, 30, tzinfo=UTC)
BEFORE = SINCE - (UNTIL - SINCE)


class Job:
    def __init__(self, id: str, statement: str) -> None:  # noqa: A002 - the config's field name
        self.id, self.statement = id, statement


SHARE = Job("share", "Share notes with my team")
CAPTURE = Job("capture", "Capture an idea quickly before I forget it")
JOBS = {"notely": [SHARE, CAPTURE], "jotter": [SHARE, CAPTURE]}
_ids = count(1)


def post(session: Session, product: Product, when: datetime, *, rating: float | None, sentiment: str,
         job: str | None = None, text: str = "a post", version: str | None = None) -> Post:
    n = next(_ids)
    p = Post(source="appstore", external_id=f"{product.slug}-{n}", product_id=product.id, text=text, rating=rating,
             created_at=when, fetched_at=when, content_hash=f"s{n}", status="classified", version=version)
    session.add(p)
    session.flush()
    session.add(PostProduct(post_id=p.id, product_id=product.id))
    session.add(Classification(post_id=p.id, model_version="test", sentiment=sentiment, sentiment_score=0.9,
                               need_type="bug" if sentiment == "negative" else "praise", need_score=0.8,
                               unmet_need=sentiment == "negative", jobs=[{"job": job, "score": 0.8}] if job else [],
                               top_job=job, evidence=None, classified_at=when))
    return p


def issue(session: Session, product: Product, label: str, keywords: list[str], state: str, posts: list[Post]) -> Issue:
    row = Issue(product_id=product.id, label=label, keywords=keywords, state=state, size=len(posts),
                representative_post_id=posts[0].id, daily_counts={}, stats={})
    session.add(row)
    session.flush()
    for p in posts:
        session.add(IssuePost(issue_id=row.id, post_id=p.id, similarity=0.9))
    return row


def build(session: Session) -> None:
    notely = Product(slug="notely", name="Notely", own=True, created_at=BEFORE)
    jotter = Product(slug="jotter", name="Jotter", own=False, created_at=BEFORE)
    tiny = Product(slug="tiny", name="Tiny", own=False, created_at=BEFORE)
    session.add_all([notely, jotter, tiny])
    session.flush()
    early, late = SINCE + timedelta(days=3), SINCE + timedelta(days=20)
    prev = BEFORE + timedelta(days=10)

    # Collection began the day before the previous period (one post each, outside both periods).
    for product in (notely, jotter, tiny):
        post(session, product, BEFORE - timedelta(days=1), rating=None, sentiment="neutral")
    # The previous period.
    for i in range(60):
        post(session, notely, prev, rating=5 if i < 30 else 4, sentiment="negative" if i < 6 else "positive")
    for i in range(50):
        post(session, jotter, prev, rating=4, sentiment="negative" if i < 18 else "positive")
    for _ in range(3):
        post(session, tiny, prev, rating=4, sentiment="positive")

    # This period: Notely.
    sharing = [post(session, notely, early if i < 5 else late, rating=2, sentiment="negative", job="share",
                    text="The sharing link fails every time I send it" if i == 0 else "sharing link fails",
                    version="4.1.0" if i < 5 else "4.2.0") for i in range(25)]
    for _ in range(5):
        post(session, notely, late, rating=2, sentiment="negative", job="share")
    for _ in range(10):
        post(session, notely, early, rating=3, sentiment="positive", job="share")
    for _ in range(10):
        post(session, notely, early, rating=2, sentiment="negative")
    for _ in range(9):
        post(session, notely, early, rating=3, sentiment="positive", job="capture")
    for _ in range(3):
        post(session, notely, early, rating=3, sentiment="neutral", job="capture")
    for _ in range(18):
        post(session, notely, late, rating=3, sentiment="neutral")
    # Jotter.
    broken = [post(session, jotter, early, rating=4, sentiment="negative", job="share", text="share link broken")
              for _ in range(10)]
    for _ in range(30):
        post(session, jotter, early, rating=4, sentiment="positive", job="share")
    for i in range(10):
        post(session, jotter, late, rating=4, sentiment="positive" if i < 2 else "negative", job="capture")
    for _ in range(5):
        post(session, tiny, late, rating=5, sentiment="positive")

    issue(session, notely, "Sharing link fails", ["share", "link", "fails"], "rising", sharing)
    issue(session, jotter, "Share link broken", ["share", "link"], "ongoing", broken)
    session.flush()
    rollups.rebuild(session)  # rows written past the store layer: the rollups are recomputed once
