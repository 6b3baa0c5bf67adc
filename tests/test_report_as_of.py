"""An as-of report reads each post as it stood at a date (issue 31), on SQLite and PostgreSQL.

An edited review (1 star "crashes on export", later 4 stars "fixed now") counts as 1 star in a report as of
before the edit and as 4 stars after it; a post first seen after the date is left out; a report as of now
is the normal report.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from store.db import Store
from store.models import Post, Product
from store.repo import PostRecord, upsert_posts
from tests import report_data as rd
from tests.cli_support import invoke
from voxpop.report import build_report

WRITTEN = datetime(2026, 1, 20, 9, tzinfo=UTC)
FIRST_SEEN = datetime(2026, 1, 20, 12, 34, 56, tzinfo=UTC)  # the crawl that found the complaint


def _review(text: str, rating: float) -> PostRecord:
    return PostRecord(source="appstore", external_id="edited-1", text=text, rating=rating, created_at=WRITTEN,
                      version="3.0")


def _store_with_edit(store: Store) -> datetime:
    """The comparison store plus one review of ours, crawled on Jan 20 and edited now; returns the edit time."""
    with store.transaction() as session:
        rd.build(session)
        ours = session.scalar(select(Product.id).where(Product.slug == "ours"))
        assert ours is not None
        upsert_posts(session, ours, [_review("crashes on export, lost my work", 1.0)])
        session.execute(update(Post).where(Post.external_id == "edited-1").values(fetched_at=FIRST_SEEN))
    edited_at = datetime.now(UTC)
    with store.transaction() as session:
        ours = session.scalar(select(Product.id).where(Product.slug == "ours"))
        assert ours is not None
        assert upsert_posts(session, ours, [_review("fixed now, export works again", 4.0)]).updated == 1
    return edited_at


def _report(store: Store, **kw: Any) -> dict[str, Any]:
    with store.sessions() as session:
        return build_report(session, ["ours", "rival"], rd.SINCE, rd.UNTIL, rd.JOBS, generated_at=rd.UNTIL,
                            threads=1, **kw)


def _stars(report: dict[str, Any]) -> dict[str, int]:
    ours = report["products"][0]
    return {k: v["x"] for k, v in ours["rating"]["distribution"].items()}


def test_an_edited_review_counts_as_it_stood_at_the_date(store: Store) -> None:
    edited_at = _store_with_edit(store)
    now = _report(store)
    before = _report(store, as_of=datetime(2026, 2, 10, tzinfo=UTC))
    after = _report(store, as_of=edited_at + timedelta(seconds=1))
    assert before["products"][0]["volume"] == now["products"][0]["volume"]
    assert _stars(before)["1"] == _stars(now)["1"] + 1 and _stars(before)["4"] == _stars(now)["4"] - 1
    assert _stars(after) == _stars(now)
    found = _report(store, as_of=FIRST_SEEN)
    unseen = _report(store, as_of=FIRST_SEEN - timedelta(microseconds=1))  # written, not yet crawled
    assert found["products"][0]["volume"] == unseen["products"][0]["volume"] + 1
    assert _stars(found)["1"] == _stars(unseen)["1"] + 1 and _stars(found)["4"] == _stars(unseen)["4"]
    assert before["products"][0]["rating"]["mean"] < now["products"][0]["rating"]["mean"]
    assert before["meta"]["as_of"] == "2026-02-10T00:00:00+00:00" and now["meta"]["as_of"] is None


def test_a_report_as_of_now_is_the_normal_report(store: Store) -> None:
    _store_with_edit(store)
    normal = _report(store)
    slow = _report(store, from_rollups=False)
    as_of_now = _report(store, as_of=datetime.now(UTC) + timedelta(seconds=1))
    assert as_of_now["meta"].pop("as_of") is not None
    normal["meta"].pop("as_of")
    slow["meta"].pop("as_of")
    assert as_of_now == normal == slow


def test_report_command_as_of(tmp_path: Path, db_url: str) -> None:
    store = Store(db_url)
    _store_with_edit(store)
    store.dispose()
    out = tmp_path / "r.json"
    args = ("report", "--products", "ours,rival", "--since", "2026-01-05", "--until", "2026-02-02", "--format",
            "json", "--out", str(out))
    result = invoke(*args, "--as-of", "2026-02-10", db_url=db_url)
    assert result.exit_code == 0, result.output
    then = json.loads(out.read_text(encoding="utf-8"))
    assert then["meta"]["as_of"] == "2026-02-10T23:59:59.999999+00:00"
    assert invoke(*args, db_url=db_url).exit_code == 0
    current = json.loads(out.read_text(encoding="utf-8"))
    assert _stars(then)["1"] == _stars(current)["1"] + 1
    page = tmp_path / "r.md"
    result = invoke("report", "--products", "ours,rival", "--as-of", "2026-02-10", "--format", "md", "--out",
                    str(page), db_url=db_url)  # without --until: the 30 days up to the end of that day
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "Period 2026-01-12 to 2026-02-11 (end exclusive); posts as they stood at 2026-02-10T23:59:59 UTC" in text
    bad = invoke(*args, "--as-of", "yesterday", db_url=db_url)
    assert bad.exit_code == 2 and "--as-of" in bad.output and "Traceback" not in bad.output
