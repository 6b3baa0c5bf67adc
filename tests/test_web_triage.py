"""Dashboard pages for daily triage over HTTP: report mails beside alerts with their retry status, times with
their timezone, configured source names in the issue filter, and the note that says which filter emptied a list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from store.models import Delivery, Report, Source
from tests.web_support import Server


def _report_with_deliveries(s: Server) -> int:
    now = datetime.now(UTC)
    with s.store.transaction() as session:
        report = Report(products=["notely", "jotter"], period_start=now - timedelta(days=7), period_end=now,
                        format="html", path="/tmp/r.html", created_at=now,
                        summary={"mail": {"subject": "[voxpop] Notely vs Jotter: rating fell", "text": "body"}})
        session.add(report)
        session.flush()
        session.add(Delivery(report_id=report.id, target="mailto:leads@example.com", status="sent", attempts=1,
                             message_id="<r1@voxpop>", created_at=now, sent_at=now))
        session.add(Delivery(report_id=report.id, target="mailto:cx@example.com", status="pending", attempts=2,
                             last_error="SMTP 451 try later", next_attempt_at=datetime(2030, 1, 2, 3, 4, tzinfo=UTC),
                             message_id="<r2@voxpop>", created_at=now))
        return report.id


def test_alerts_page_lists_report_mails_with_retry_status(seeded_server: Server) -> None:
    s = seeded_server
    report_id = _report_with_deliveries(s)
    _, _, html = s.request("GET", "/alerts")
    assert f'id="report-{report_id}"' in html and "[voxpop] Notely vs Jotter: rating fell" in html
    assert "2 failed attempts; retrying at 2030-01-02 03:04 UTC" in html and "SMTP 451 try later" in html
    assert "1 alert, 1 report mail" in html
    status, data = s.get_json("/api/alerts?status=pending")
    assert status == 200 and data["alerts"] == []
    assert [r["id"] for r in data["report_mails"]] == [report_id]
    assert {d["retry"] for d in data["report_mails"][0]["deliveries"]} == {
        "sent", "2 failed attempts; retrying at 2030-01-02 03:04 UTC"}
    assert s.get_json("/api/alerts?status=failed")[1]["report_mails"] == []


def test_status_and_overview_show_times_with_the_timezone(seeded_server: Server) -> None:
    s = seeded_server
    _, _, html = s.request("GET", "/status")
    started = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%d %H:")
    assert started in html and " UTC</td>" in html


def test_issue_filter_takes_the_configured_source_name_and_says_what_emptied_it(seeded_server: Server) -> None:
    s = seeded_server
    with s.store.transaction() as session:
        for source in session.scalars(select(Source)):
            source.name = "store-reviews"
    _, by_name = s.get_json("/api/issues?source=store-reviews&product=notely")
    _, by_spider = s.get_json("/api/issues?source=appstore&product=notely")
    assert by_name["issues"] and [i["id"] for i in by_name["issues"]] == [i["id"] for i in by_spider["issues"]]
    _, _, html = s.request("GET", "/issues?source=forum&product=notely")
    assert "No issues match: the source filter (forum) left none" in html
    _, posts = s.get_json("/api/posts?product=jotter&source=forum")
    assert posts["total"] == 0 and posts["emptied_by"]["filter"] == "source"
    _, posts = s.get_json("/api/posts?product=notely&q=sync")
    assert posts["total"] == len(posts["posts"]) > 0 and posts["emptied_by"] is None


def test_reopened_issues_say_why(seeded_server: Server) -> None:
    from store.models import Issue
    from voxpop import curation

    s = seeded_server
    dark, editor = s.seeded.issues["dark"], s.seeded.issues["editor"]
    with s.store.transaction() as session:
        curation.resolve_issue(session, dark, by="ann")
        curation.reopen_issue(session, dark, by="bob")
        curation.resolve_issue(session, editor, by="ann")
        session.get(Issue, editor).state = "reopened"  # detection saw the complaint come back
    today = datetime.now(UTC).date().isoformat()
    _, _, html = s.request("GET", "/issues?product=notely")
    assert f"reopened by bob on {today}" in html and f"came back after ann resolved it on {today}" in html
    _, data = s.get_json("/api/overview")
    notely = next(p for p in data["products"] if p["slug"] == "notely")
    notes = {i["id"]: i["notes"] for i in notely["issues"]}
    assert notes[dark] == {"reopened": f"reopened by bob on {today}"}


def test_bulk_relabel_needs_the_form_token_and_a_selection(seeded_server: Server) -> None:
    from urllib.parse import urlencode

    from store.models import AuditLog
    from tests.test_web_actions import Browserless

    s = seeded_server
    v = Browserless(s)
    ids = [str(s.seeded.by_index[i]) for i in (0, 1)]
    body = urlencode([("post", i) for i in ids] + [("sentiment", "neutral")]).encode()
    refused = s.request("POST", "/posts/label", body=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": v.cookie})
    assert refused[0] == 403
    status, _, html = v.post("/posts/label", {"sentiment": "neutral"})
    assert status == 400 and "select the posts to relabel" in html
    status, _, html = v.post("/posts/label", {"post": "999999", "sentiment": "neutral"})
    assert status == 400 and "no post with id 999999" in html
    with s.store.sessions() as session:
        assert session.scalars(select(AuditLog)).all() == []


def test_post_total_exact_on_one_page_else_counted_afterwards_up_to_a_cap(
        seeded_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import voxpop.web.queries as q

    s = seeded_server
    with s.store.sessions() as session:
        page = q.search_posts(session, q.PostFilters(product="notely"), page_size=4)
        last = q.search_posts(session, q.PostFilters(product="notely", page="3"), page_size=4)
    assert (page["total"], page["more_than"], page["more"]) == (None, 4, True)  # the page does not wait for a count
    assert (last["total"], last["more_than"]) == (10, None)  # the last page knows the total
    _, data = s.get_json("/api/posts?product=notely")
    assert (data["total"], data["more_than"]) == (10, None)
    assert s.get_json("/api/posts/count?product=notely&sentiment=negative") == (200, {"total": 5, "capped": False})
    monkeypatch.setattr(q, "TOTAL_CAP", 3)
    assert s.get_json("/api/posts/count?product=notely")[1] == {"total": 3, "capped": True}
    assert s.get_json("/api/posts/count?sentiment=furious")[0] == 400
