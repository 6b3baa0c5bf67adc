"""A small store with known posts, shared by the report tests (figures worked out by hand in the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from store import rollups
from store.models import Classification, Issue, IssuePost, Post, PostProduct, Product

SINCE = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
UNTIL = datetime(2026, 2, 2, tzinfo=UTC)  # four weeks later
SCRIPT = "<script>alert('x')</script> crashes when exporting & loses data"


@dataclass(frozen=True)
class Job:
    id: str
    statement: str


JOBS = {"ours": [Job("sync", "Keep my notes in sync"), Job("export", "Export my notes")],
        "rival": [Job("sync", "Keep my notes in sync")]}

_ids = count(1)


def _post(session: Session, product: Product, when: datetime, *, source: str = "appstore", rating: float | None = None,
          status: str = "classified", sentiment: str | None = None, need: str = "praise", unmet: bool = False,
          job: str | None = None, text: str = "a review", url: str | None = None, need_score: float = 0.5) -> Post:
    n = next(_ids)
    post = Post(source=source, external_id=f"{product.slug}-{n}", product_id=product.id, text=text, rating=rating,
                created_at=when, fetched_at=when, content_hash=f"h{n}", status=status, url=url)
    session.add(post)
    session.flush()
    session.add(PostProduct(post_id=post.id, product_id=product.id))
    if sentiment is not None:
        session.add(Classification(
            post_id=post.id, model_version="test", sentiment=sentiment, sentiment_score=0.9, need_type=need,
            need_score=need_score, unmet_need=unmet, jobs=[{"job": job, "score": 0.8}] if job else [], top_job=job,
            evidence=None, classified_at=when))
    return post


def _issue(session: Session, product: Product, label: str, keywords: list[str], state: str, posts: list[Post]) -> Issue:
    issue = Issue(product_id=product.id, label=label, keywords=keywords, state=state, size=len(posts),
                  representative_post_id=posts[0].id if posts else None, daily_counts={}, stats={})
    session.add(issue)
    session.flush()
    for post in posts:
        session.add(IssuePost(issue_id=issue.id, post_id=post.id, similarity=0.9))
    return issue


def build(session: Session) -> None:
    """Two products over four weeks; see tests/test_report_compare.py for the expected figures."""
    now = SINCE
    ours = Product(slug="ours", name="Our Notes", own=True, created_at=now)
    rival = Product(slug="rival", name="Rival <Notes>", own=False, created_at=now)
    idle = Product(slug="idle", name="Idle", own=False, created_at=now)
    session.add_all([ours, rival, idle])
    session.flush()
    w = [SINCE + timedelta(weeks=i, days=1, hours=12) for i in range(4)]

    for _ in range(10):
        _post(session, ours, w[0], rating=5, sentiment="positive", job="sync")
    for _ in range(6):
        _post(session, ours, w[1], rating=4, sentiment="positive", job="sync")
    crash = [_post(session, ours, w[1], rating=1, sentiment="negative", need="bug", unmet=True, job="export",
                   text=SCRIPT if i == 0 else "export crashes", url="https://example.com/r/1" if i == 0 else None,
                   need_score=0.9 if i == 0 else 0.4) for i in range(4)]
    for _ in range(8):
        _post(session, ours, w[2], rating=5, sentiment="positive", job="export")
    dark = [_post(session, ours, w[2], rating=2, sentiment="negative", need="feature_request", unmet=True, job="sync",
                  text="please add dark mode", url="javascript:alert(1)") for _ in range(6)]
    for _ in range(6):
        _post(session, ours, w[2], rating=3, sentiment="neutral", need="other")
    for _ in range(3):
        _post(session, ours, w[3], rating=1, status="skipped")
    for _ in range(2):
        _post(session, ours, w[3], status="pending")
    shared = _post(session, ours, w[3], source="reddit", sentiment="positive", job="sync",
                   text="ours vs rival: both sync fine")
    session.add(PostProduct(post_id=shared.id, product_id=rival.id))
    # Outside the period: the boundaries are [since, until).
    _post(session, ours, SINCE - timedelta(seconds=1), rating=1, sentiment="negative", job="sync")
    _post(session, ours, UNTIL, rating=1, sentiment="negative", job="sync")

    for _ in range(6):
        _post(session, rival, w[1], rating=4, sentiment="positive", job="sync")
    rival_crash = [_post(session, rival, w[1], rating=1, sentiment="negative", need="bug", unmet=True, job="sync",
                         text="crashes on pdf export") for _ in range(9)]
    login = [_post(session, rival, w[1], rating=1, sentiment="negative", need="bug", unmet=True, job="sync",
                   text="stuck in a login loop") for _ in range(5)]
    for _ in range(4):
        _post(session, rival, w[2], source="forum", status="pending")

    _issue(session, ours, "Crashes on export", ["crash", "export"], "ongoing", crash)
    _issue(session, ours, "Dark mode missing", ["dark", "theme"], "rising", dark)
    _issue(session, rival, "Export crashes (PDF)", ["crash", "export", "pdf"], "new", rival_crash)
    _issue(session, rival, "Login loop", ["login"], "new", login)
    _issue(session, rival, "Maybe something", ["something"], "candidate", login[:1])
    session.flush()
    rollups.rebuild(session)  # rows written past the store layer: the rollups are recomputed once
