"""End to end: the demo path (local site -> real Scrapy crawl -> store -> model -> detector -> SMTP -> report)."""

from __future__ import annotations

import json
import os
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import Alert, Classification, Delivery, Issue, Post, Product

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VOXPOP_DATABASE_URL", db_url)
    return db_url


def test_demo_runs_the_whole_path_and_twice_adds_nothing(tmp_path: Path, demo_db: str) -> None:
    from voxpop.demo.runner import run_demo

    lines: list[str] = []
    first = run_demo(tmp_path / "demo", echo=lines.append)

    assert first["crawl"]["failed"] == []
    assert first["crawl"]["stored"] > 200
    assert first["classify"]["classified"] >= first["crawl"]["stored"] - first["classify"]["skipped_language"]

    store = Store(demo_db)
    with store.sessions() as session:
        posts = session.scalar(select(func.count()).select_from(Post))
        assert posts == first["crawl"]["stored"]
        assert session.scalar(select(func.count()).select_from(Classification)) == first["classify"]["classified"]
        sources = set(session.scalars(select(Post.source).distinct()))
        assert {"appstore", "discourse"} <= sources
        own = session.scalar(select(Product).where(Product.own.is_(True)))
        issues = session.scalars(select(Issue).where(Issue.product_id == own.id,
                                                     Issue.state.in_(["new", "rising"]))).all()
        assert issues, "the detector should find the PDF export crash burst"
        assert any("pdf" in (i.label + " " + " ".join(i.keywords)).lower() for i in issues)
        # Issues are built from unmet needs only: no praise issue, whatever its size.
        listed = session.scalars(select(Issue).where(Issue.state.not_in(["candidate", "merged"]))).all()
        assert listed and all(i.need_type in ("problem", "feature_request", "question") for i in listed)
        alerts = session.scalars(select(Alert)).all()
        sent = session.scalars(select(Delivery).where(Delivery.status == "sent")).all()
        assert alerts and sent

    # Issue 29: the demo's writes (crawl, classify, detect) kept the rollups exact, and the report read
    # from them equals the report built by scanning the posts, for a period cut mid-day.
    from datetime import UTC, datetime, timedelta

    from store import rollups
    from voxpop.report import build_report

    with store.sessions() as session:
        assert rollups.verify(session)["differences"] == 0
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        fast = build_report(session, None, until - timedelta(days=400), until, generated_at=until, threads=1)
        slow = build_report(session, None, until - timedelta(days=400), until, generated_at=until, threads=1,
                            from_rollups=False)
        assert fast == slow
        assert sum(p["volume"] for p in fast["products"]) > 0

    emls = [Path(p) for p in first["eml"]]
    assert emls and all(p.exists() for p in emls)
    message = message_from_bytes(emls[0].read_bytes(), policy=policy.default)
    assert "pdf" in str(message["Subject"]).lower() or any(
        "pdf" in (json.dumps(a.payload) + (a.kind or "")).lower() for a in alerts)
    assert message["Message-ID"]
    for eml in emls:  # the demo sets [ui] base_url: every alert mail links to its issue on the dashboard
        body = message_from_bytes(eml.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
        if "voxpop issue mute" in body:
            assert "Dashboard: http://127.0.0.1:8321/issues/" in body
    pdf_alerts = [a for a in alerts if "pdf" in json.dumps(a.payload.get("issue") or {}).lower()]
    assert pdf_alerts and pdf_alerts[0].payload["issue"]["version"] == "4.2.0"  # the release that brought it
    assert first["emails_received"] >= 1
    _reminders_theme_spans_three_products_and_the_mail_agrees_with_the_issue_page(store, pdf_alerts[0], emls)

    report = Path(first["report"])
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html and "Notely" in html and "Jotter" in html and "Scribbly" in html
    # The release watch of 4.2.0 leads with the crash, named by its problem; the report says it too.
    from alerts.release_store import release_watch

    watch = release_watch(store, None, own.slug)
    newest = watch["releases"][0]
    assert newest["version"] == "4.2.0" and "crash" in newest["topics"][0]["label"].lower()
    assert "pdf" in newest["topics"][0]["label"].lower() and "Since version 4.2.0" in html
    assert any("email" in line for line in lines) and any("report" in line for line in lines)
    _two_segments_of_the_export_job(store)
    _dashboard_shows_the_demo(lines[-1], first["dashboard"], tmp_path / "demo" / "voxpop.toml")

    second = run_demo(tmp_path / "demo", echo=lines.append)
    assert second["crawl"]["stored"] == 0
    assert second["emails_received"] == 0
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == posts
        assert session.scalar(select(func.count()).select_from(Alert)) == len(alerts)
    store.dispose()
    assert os.environ["VOXPOP_DATABASE_URL"] == demo_db


def _two_segments_of_the_export_job(store: Store) -> None:
    """The demo's export job has two needs-based segments with different needs (issue 26)."""
    from datetime import UTC, datetime, timedelta

    from voxpop.demo.content import JOBS
    from voxpop.report import build_report
    from voxpop.report.figures import JobLike

    jobs: list[JobLike] = [type("J", (), {"id": i, "statement": s})() for i, s, _ in JOBS]
    now = datetime.now(UTC)
    with store.sessions() as session:
        data = build_report(session, None, now - timedelta(days=30), now,
                            {slug: jobs for slug in ("notely", "jotter", "scribbly")})
    export = {s["key"]: s for s in data["segments"]["export-notes"]}
    assert {"tablet", "work"} <= set(export)
    assert "handwriting" in export["tablet"]["need_words"] and "handwriting" not in export["work"]["need_words"]
    assert {"word", "docx"} & set(export["work"]["need_words"])


def _dashboard_shows_the_demo(last_line: str, command: str, config: Path) -> None:
    """The demo ends with the dashboard command; that config serves the demo's data (the PDF issue on top)."""
    from tests.web_support import serve
    from voxpop.web.serve import build

    assert last_line.startswith("browse it: .venv/bin/voxpop serve --config ") and command in last_line
    assert command.endswith("voxpop.toml")
    app = build(str(config), "127.0.0.1", environ={})
    for url in serve(app):
        import urllib.request

        with urllib.request.urlopen(url + "/api/overview") as response:
            overview = json.loads(response.read())
        with urllib.request.urlopen(url + "/") as response:
            assert "Notely" in response.read().decode()
    notely = next(p for p in overview["products"] if p["own"])
    assert notely["now"]["volume"] > 0
    assert any("pdf" in (i["label"] + " " + " ".join(i["keywords"])).lower() for i in notely["issues"])


def _reminders_theme_spans_three_products_and_the_mail_agrees_with_the_issue_page(
        store: Store, alert: Alert, emls: list[Path]) -> None:
    """Issue 27: one theme holds the three products' reminder issues; the mail's figures are the snapshot the
    issue page shows for that day."""
    from voxpop.report.themes import theme_table
    from voxpop.web.queries import issue_detail

    with store.sessions() as session:
        themes = theme_table(session)
        page = issue_detail(session, alert.issue_id)
    reminders = [t for t in themes if "reminder" in t["label"].lower()]
    assert len(reminders) == 1 and {p["slug"] for p in reminders[0]["products"]} == {"notely", "jotter", "scribbly"}
    assert page is not None
    snap = next(s for s in page["snapshots"] if s["alert_id"] == alert.id)
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in emls]
    text = next(m.get_body(("plain",)).get_content() for m in mails if "-alert-" in str(m["Message-ID"]))
    assert f"{snap['posts']} posts since" in text and f"(as of {snap['as_of']})" in text
    assert f"{snap['negative']} of {snap['posts']} posts in this issue are negative, as of {snap['as_of']}" in text
