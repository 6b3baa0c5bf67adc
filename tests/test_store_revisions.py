"""Edit history: an edited post keeps its earlier versions; readers can take the post as it stood at a date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select, update

from alerts.issues import backtest
from store.db import Store
from store.models import Classification, Post, PostRevision
from store.repo import PostRecord, upsert_posts
from store.revisions import revisions_of
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream

THEN = datetime(2026, 2, 5, 18, tzinfo=UTC)  # when the complaints were first crawled


def _edit_burst(store: Store, ids: list[int]) -> None:
    """The reviewers edit their complaints into praise; the re-crawl brings them and classify re-reads them."""
    with store.transaction() as session:
        session.execute(update(Post).values(fetched_at=THEN))  # first seen when they were written
        pid = session.scalar(select(Post.product_id).where(Post.id == ids[0]))
        records = [PostRecord(source="test", external_id=f"acme-{i}", text="fixed now, thanks for the update",
                              rating=4.0, created_at=datetime(2026, 2, 5, 9, tzinfo=UTC), version="2.1")
                   for i in ids]
        result = upsert_posts(session, pid, records)
        assert result.updated == len(ids)
        rng = np.random.default_rng(5)
        for i in ids:  # what the classify stage does with the new text
            v = rng.normal(size=16).astype(np.float32)
            session.execute(update(Classification).where(Classification.post_id == i).values(
                sentiment="positive", need_type="praise", unmet_need=False,
                embedding=(v / np.linalg.norm(v)).tobytes()))
            session.execute(update(Post).where(Post.id == i).values(status="classified"))


def _alerts_on(days: list[dict[str, object]], day: str) -> list[object]:
    return [(a["kind"], a["figures"].get("count")) for d in days if d["day"] == day  # type: ignore[index,union-attr]
            for a in d["alerts"]]  # type: ignore[attr-defined]


def test_an_edited_review_keeps_its_earlier_version(store: Store) -> None:
    insert_posts(store, "acme", burst(500, date(2026, 2, 5), 2))
    _edit_burst(store, [500, 501])
    with store.sessions() as session:
        post = session.get(Post, 500)
        assert post is not None and post.rating == 4.0 and post.text.startswith("fixed now")  # the latest shows
        (old,) = session.scalars(select(PostRevision).where(PostRevision.post_id == 500)).all()
        assert old.rating == 1.0 and old.text.startswith("checkout button frozen") and old.version == "2.0"
        assert old.seen_at == THEN and old.replaced_at > THEN and old.sentiment == "negative"
        shown = revisions_of(session, [500])[500]
        assert [r["rating"] for r in shown] == [1.0]
    with store.transaction() as session:  # the same version again is no edit: nothing more kept
        pid = session.scalar(select(Post.product_id).where(Post.id == 500))
        again = upsert_posts(session, pid, [PostRecord(source="test", external_id="acme-500",
                                                       text="fixed now, thanks for the update", rating=4.0,
                                                       created_at=datetime(2026, 2, 5, 9, tzinfo=UTC), version="2.1")])
        assert again.unchanged == 1
    with store.sessions() as session:
        assert len(session.scalars(select(PostRevision).where(PostRevision.post_id == 500)).all()) == 1


def test_a_backtest_before_the_edit_sees_the_complaints_as_they_stood(store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, date(2026, 2, 5), 8))
    before = _alerts_on(backtest(store, config, "acme", date(2026, 2, 5), date(2026, 2, 6)), "2026-02-05")
    assert before, "the burst of complaints alerts on its day"
    _edit_burst(store, list(range(100000, 100008)))
    after = _alerts_on(backtest(store, config, "acme", date(2026, 2, 5), date(2026, 2, 6)), "2026-02-05")
    assert after == before  # history is not rewritten by the edits


def test_reimport_of_an_edited_review_exports_its_revisions(store: Store, db_url: str, tmp_path: Path) -> None:
    import json

    from tests.cli_support import invoke

    first, second = tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    first.write_text(json.dumps({"id": "r1", "text": "Crashes on export", "rating": 1, "date": "2026-01-02"}) + "\n")
    second.write_text(json.dumps({"id": "r1", "text": "Fixed now, thanks", "rating": 4, "date": "2026-01-02"}) + "\n")
    assert invoke("import", "--input", str(first), "--product", "acme", db_url=db_url).exit_code == 0
    assert invoke("import", "--input", str(second), "--product", "acme", db_url=db_url).exit_code == 0
    plain = json.loads(invoke("export", "--product", "acme", db_url=db_url).stdout)
    assert plain["text"] == "Fixed now, thanks" and "revisions" not in plain
    row = json.loads(invoke("export", "--product", "acme", "--revisions", db_url=db_url).stdout)
    assert row["rating"] == 4 and [(r["text"], r["rating"]) for r in row["revisions"]] == [("Crashes on export", 1)]
    out = tmp_path / "x.csv"
    assert invoke("export", "--product", "acme", "--revisions", "--format", "csv", "--out", str(out),
                  db_url=db_url).exit_code == 0
    assert "revisions" in out.read_text().splitlines()[0] and "Crashes on export" in out.read_text()


def test_the_dashboard_marks_an_edited_post_and_shows_its_earlier_version(store: Store) -> None:
    from tests.web_support import start

    insert_posts(store, "acme", burst(700, date(2026, 2, 5), 2))
    _edit_burst(store, [700])
    for server in start(store):
        status, _, html = server.request("GET", "/posts?product=acme&since=2026-02-01&until=2026-02-06")
        assert status == 200
        row = html[html.index('id="post-700"'):]
        row = row[:row.index("</tr>")]
        assert "edited · 1 earlier version" in row and "checkout button frozen" in row and "rated 1.0" in row
        other = html[html.index('id="post-701"'):]
        assert "edited" not in other[:other.index("</tr>")]
        _, data = server.get_json("/api/posts?product=acme&since=2026-02-01&until=2026-02-06")
        edited = next(p for p in data["posts"] if p["id"] == 700)
        assert edited["rating"] == 4.0 and edited["revisions"][0]["rating"] == 1.0
