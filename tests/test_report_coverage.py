"""The report's crawl coverage: per source, posts held, the source's own total, caps, last run and health."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import select, update

from store.db import Store
from store.models import CrawlRun, Post, Product, Source
from tests import report_data as rd
from voxpop.report import build_report
from voxpop.report.coverage import reported_total
from voxpop.report.render import render_report


def test_reported_totals_per_url_are_summed() -> None:
    assert reported_total({"https://shop.example/p/1": 13, "https://shop.example/p/2": 11}) == 24
    assert reported_total(40) == 40 and reported_total(None) is None and reported_total({}) is None
    assert reported_total({"us": 5, "gb": None}) == 5 and reported_total(True) is None


def test_report_coverage_section_per_source(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as session:
        rd.build(session)
        ours = session.scalar(select(Product).where(Product.slug == "ours"))
        source = Source(product_id=ours.id, name="shop", spider="jsonld", params={}, high_water={})
        session.add(source)
        session.flush()
        session.execute(update(Post).where(Post.product_id == ours.id).values(source_id=source.id))
        held = len(session.scalars(select(Post.id).where(Post.product_id == ours.id)).all())
        session.add(CrawlRun(source_id=source.id, spider="jsonld", product_slug="ours",
                             started_at=datetime(2026, 3, 29, 6, 30), finished_at=datetime(2026, 3, 29, 6, 31),
                             status="partial", reason="page cap reached", stored=3, updated=0, dropped=1,
                             stats={"reported_total": {"https://shop.example/p/1": 60, "https://shop.example/p/2": 40},
                                    "caps_hit": ["max_pages"]}))
    with sqlite_store.sessions() as session:
        data = build_report(session, ["ours", "rival", "idle"], rd.SINCE, rd.UNTIL + timedelta(days=30), rd.JOBS,
                            min_n=20)
    (row,) = data["crawl"]
    assert (row["product"], row["source"], row["held"], row["reported_total"]) == ("ours", "shop", held, 100)
    assert row["caps_hit"] == ["max_pages"] and row["health"] == "partial: page cap reached"
    assert row["last_run_text"] == "2026-03-29 06:30 UTC"
    html, md = render_report(data, "html"), render_report(data, "md")
    for text in (html, md):
        assert "Crawl coverage" in text and f"about 100 ({round(100 * held / 100)}% held)" in text
        assert "max_pages" in text.replace("\\_", "_") and "2026-03-29 06:30 UTC" in text
        assert "partial: page cap reached" in text
        assert "Skipped (non-English" not in text and "Skipped (languages not classified / no text)" in text
    crawl = [r for r in csv.DictReader(io.StringIO(render_report(data, "csv"))) if r["section"] == "crawl"]
    assert [(r["product"], r["key"], r["x"], r["n"]) for r in crawl] == [("ours", "shop", str(held), "100")]
