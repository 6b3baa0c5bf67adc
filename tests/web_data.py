"""Demo-like data for the dashboard tests: three note apps, their posts (one hostile), issues and an alert.

Written for these tests in our own words. Dates are relative to today so the overview's periods see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import update

from store import rollups
from store.db import Store
from store.models import Alert, Classification, CrawlRun, Delivery, Issue, IssuePost, Post
from store.repo import PostRecord, ensure_product, ensure_source, upsert_posts

HOSTILE_TEXT = 'Great app <script>document.title="pwned"</script> <img src=x onerror=alert(1)> & more'
HOSTILE_URL = "javascript:alert(document.cookie)"

# (product, text, rating, days ago, version, sentiment, need, job)
POSTS = [
    ("notely", "Sync keeps failing since the last update, my notes vanish on the tablet", 1, 1, "5.2", "negative",
     "problem", "sync"),
    ("notely", "After updating, sync stopped working between phone and laptop", 1, 2, "5.2", "negative", "problem",
     "sync"),
    ("notely", "Sync fails every morning and shows a red cloud icon", 2, 3, "5.2", "negative", "problem", "sync"),
    ("notely", "Sync keeps failing since the last update, my notes vanish on the tablet", 1, 4, "5.2", "negative",
     "problem", "sync"),
    ("notely", "Please add a dark mode, the white page hurts at night", 3, 2, "5.1", "neutral", "feature_request",
     "write"),
    ("notely", "A dark theme would be lovely for late writing sessions", 4, 5, "5.1", "neutral", "feature_request",
     "write"),
    ("notely", "Exporting to PDF works beautifully, thank you", 5, 3, "5.2", "positive", "praise", "export"),
    ("notely", HOSTILE_TEXT, 5, 1, "5.2", "positive", "praise", None),
    ("notely", "Search finds my old recipes instantly", 5, 9, "5.0", "positive", "praise", "search"),
    ("notely", "The editor lags when a note has many images", 2, 10, "5.0", "negative", "problem", "write"),
    ("jotter", "Jotter sync is rock solid, never lost a note", 5, 2, "3.4", "positive", "praise", "sync"),
    ("jotter", "Sync conflicts create duplicate notes all the time", 2, 3, "3.4", "negative", "problem", "sync"),
    ("jotter", "Wish jotter had tags like other apps", 3, 6, "3.3", "neutral", "feature_request", "search"),
    ("scribble", "Scribble crashes when I attach a photo", 1, 1, "1.9", "negative", "problem", "write"),
    ("scribble", "Handwriting recognition is surprisingly good", 4, 4, "1.9", "positive", "praise", "write"),
]
# Jotter's source reports its total per product page (as the JSON-LD spider does); the rest report one number.
TOTALS: dict[str, object] = {"jotter": {"https://shop.example/p/1": 13, "https://shop.example/p/2": 11}}
NAMES = {"notely": "Notely", "jotter": "Jotter", "scribble": "Scribble"}


@dataclass
class Seeded:
    """Ids of what was seeded, for the tests to look up."""

    posts: dict[str, int] = field(default_factory=dict)  # first 20 characters of the text -> id (first post)
    by_index: dict[int, int] = field(default_factory=dict)  # index in POSTS -> id
    issues: dict[str, int] = field(default_factory=dict)  # short name -> id
    hostile_post: int = 0


def _vector(seed: int) -> bytes:
    v = np.random.default_rng(seed).normal(size=16).astype(np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def seed(store: Store, today: datetime | None = None) -> Seeded:
    """Fill ``store`` with the demo-like products, posts, classifications, issues, crawl runs and an alert."""
    now = today or datetime.now(UTC)
    out = Seeded()
    with store.transaction() as session:
        products = {slug: ensure_product(session, slug, name, own=slug == "notely") for slug, name in NAMES.items()}
        sources = {slug: ensure_source(session, p.id, "appstore", "appstore", {"app_id": "1"})
                   for slug, p in products.items()}
        for i, (slug, text, rating, ago, version, *_rest) in enumerate(POSTS):
            url = HOSTILE_URL if text == HOSTILE_TEXT else f"https://apps.example.com/{slug}/review/{i}"
            record = PostRecord(source="appstore", external_id=f"{slug}-{i}", text=text, rating=float(rating),
                                created_at=now - timedelta(days=ago, hours=1), version=version, language="en",
                                found_by="appstore:us" if i % 2 == 0 else "appstore:gb", url=url,
                                author="<b>mallory</b>" if text == HOSTILE_TEXT else f"user{i}",
                                title="<i>title</i>" if text == HOSTILE_TEXT else None)
            result = upsert_posts(session, products[slug].id, [record], source_id=sources[slug].id)
            post_id = result.ids[0]
            out.posts.setdefault(text[:20], post_id)
            out.by_index[i] = post_id
            if text == HOSTILE_TEXT:
                out.hostile_post = post_id
        session.flush()
        for i, (slug, text, _r, _ago, _v, sentiment, need, job) in enumerate(POSTS):
            post_id = session.query(Post.id).filter(Post.external_id == f"{slug}-{i}").scalar()
            session.execute(update(Post).where(Post.id == post_id).values(status="classified"))
            session.add(Classification(
                post_id=post_id, model_version="test-1", sentiment=sentiment, sentiment_score=0.9, need_type=need,
                need_score=0.8, unmet_need=need in ("problem", "feature_request"),
                jobs=[{"job": job, "score": 0.7}] if job else [], top_job=job,
                evidence=text.split(",")[0] if text != HOSTILE_TEXT else text, classified_at=now))
        session.flush()

        def issue(slug: str, label: str, state: str, members: list[int], vec: int, keywords: list[str]) -> int:
            ids = [out.by_index[m] for m in members]
            daily: dict[str, int] = {}
            for m in members:
                ago = POSTS[m][3]
                day = (now - timedelta(days=ago, hours=1)).date().isoformat()
                daily[day] = daily.get(day, 0) + 1
            row = Issue(product_id=products[slug].id, label=label, keywords=keywords, state=state,
                        need_type="problem", centroid=_vector(vec), size=len(ids),
                        first_seen=now - timedelta(days=10), last_seen=now - timedelta(hours=1),
                        state_changed_at=now - timedelta(days=1), representative_post_id=ids[0],
                        daily_counts=daily, stats={"versions": {"5.2": len(ids)},
                                                   "last_test": {"count": len(ids), "p_value": 0.003}})
            session.add(row)
            session.flush()
            for k, pid in enumerate(ids):
                session.add(IssuePost(issue_id=row.id, post_id=pid, similarity=0.9 - k / 100))
            return row.id

        out.issues["sync"] = issue("notely", "sync fails after update", "new",
                                   [0, 1, 2], 1,
                                   ["sync", "update"])
        out.issues["sync2"] = issue("notely", "sync stopped working", "ongoing", [3], 2,
                                    ["sync", "stopped"])
        out.issues["dark"] = issue("notely", "dark mode wanted", "rising",
                                   [4, 5], 3, ["dark", "mode"])
        out.issues["editor"] = issue("notely", "editor lags with images", "ongoing", [9], 4,
                                     ["editor", "images"])
        out.issues["jotter-sync"] = issue("jotter", "sync conflicts duplicate notes", "rising",
                                          [11], 1, ["sync", "duplicates"])
        out.issues["crash"] = issue("scribble", "crash on photo attach", "new", [13], 5,
                                    ["crash", "photo"])
        for slug in NAMES:
            session.add(CrawlRun(source_id=sources[slug].id, spider="appstore", product_slug=slug,
                                 started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=2),
                                 status="ok", stored=5, updated=0, dropped=0,
                                 stats={"reported_total": TOTALS.get(slug, 40), "caps_hit": []}))
        alert = Alert(dedupe_key=f"issue:{out.issues['sync']}:new", kind="issue_new", product_id=products["notely"].id,
                      issue_id=out.issues["sync"], created_at=now,
                      payload={"product": {"slug": "notely", "name": "Notely", "own": True},
                               "issue": {"id": out.issues["sync"], "label": "sync fails after update",
                                         "keywords": ["sync"], "state": "new", "size": 3},
                               "figures": {"count": 3, "window_days": 3, "total": 9, "share": 0.33,
                                           "baseline_days": 28, "baseline_count": 1, "baseline_total": 30,
                                           "baseline_share": 0.03, "expected": 0.3, "p_value": 0.002},
                               "daily": [], "quotes": [{"post_id": 1, "text": "Sync keeps failing",
                                                        "url": HOSTILE_URL}]})
        session.add(alert)
        session.flush()
        session.add(Delivery(alert_id=alert.id, target="mailto:team@example.com", status="sent", attempts=1,
                             message_id="<m1@voxpop>", created_at=now, sent_at=now))
        rollups.rebuild(session)  # classifications and members written past the store layer
    return out
