"""One set of numbers (issue 27): an alert's figures are a snapshot as of its day and say so; the issue page
shows the live figures first and each alert's snapshot under it; every surface shows one post count.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from alerts.issues import list_issues, run_detect
from alerts.render import render_alert, why
from store.db import Store
from store.models import Alert, Issue, IssuePost, Post
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from tests.web_support import Server, seeded_server  # noqa: F401 - fixture
from voxpop.report import build_report
from voxpop.web import queries

BURST_DAY = date(2026, 2, 5)


def test_alert_snapshot_and_live_figures_are_labelled_and_agree_with_the_issue_page(store: Store,
                                                                                    tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = burst(100000, BURST_DAY, 8)  # eight negative posts on the alert's day
    # two more the next day, not negative: live figures move on, the alert's must not
    later = [replace(p, id=p.id + 1000, created_at=p.created_at + timedelta(days=1), negative=False)
             for p in first[:2]]
    insert_posts(store, "acme", stream(days=40) + first + later)
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 4))
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 6, 20, 0))  # alerts Feb 5, a day late
    assert [(a["kind"], a["day"]) for a in report.alerts] == [("issue_new", "2026-02-05")]
    with store.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        payload, kind, issue_id = alert.payload, alert.kind, alert.issue_id
        assert issue_id is not None
        page = queries.issue_detail(session, issue_id)
    # the snapshot stored with the alert: every count as of its day, from the same members
    assert payload["snapshot"]["as_of"] == "2026-02-05"
    assert (payload["snapshot"]["posts"], payload["snapshot"]["negative"]) == (8, 8)
    assert payload["issue"]["size"] == 8 and payload["issue"]["negative"] == 8
    assert payload["issue"]["negative_share"] == 1.0  # 8 of 8, never today's 8 of 10 mixed with the day's 8
    # the mail says which day its figures are as of, and counts from one snapshot
    mail = render_alert(kind, payload, alert_id=alert.id)
    assert "8 of 8 posts in this issue are negative, as of 2026-02-05" in mail.text
    assert "8 posts since 2026-02-05 (as of 2026-02-05)" in mail.text
    assert "The figures, as of 2026-02-05" in mail.text and "The figures, as of 2026-02-05" in mail.html
    assert payload["versions"] == [{"version": "2.0", "count": 8}]  # the day's posts, not the 10 of today
    assert "of 10" not in mail.text and "2.0 (10)" not in mail.text
    # the issue page: live figures first, then the alert's snapshot with its date, agreeing with the mail
    assert page is not None
    assert page["live"] == {"posts": 10, "negative": 8, "as_of": "live"} and page["size"] == 10
    (snap,) = page["snapshots"]
    assert (snap["as_of"], snap["posts"], snap["negative"]) == ("2026-02-05", 8, 8)
    assert snap["why"] == why(kind, payload["figures"])
    assert all(line in mail.text.replace("\n", " ") or line[:40] in mail.text for line in snap["why"])


def test_smoothed_rates_are_said_as_expected_never_as_a_share() -> None:
    from tests.alert_support import sample_payload

    payload = sample_payload()
    payload["issue"]["state"] = "ongoing"
    payload["figures"] = {"scope": "version", "version": "4.2.0", "baseline_versions": ["4.1.0"], "count": 8,
                          "total": 37, "share": 0.216, "baseline_count": 0, "baseline_total": 54,
                          "baseline_share": 0.009091, "expected": 0.336, "p_value": 1e-6, "tested": 4, "fdr": 0.1}
    out = render_alert("issue_rising", payload, alert_id=2)
    assert "0 of 54 posts (0.9%)" not in out.text  # a smoothed estimate is not a share of 0 posts
    assert "0 of 54 posts, so about 0.3 expected (expected rate 0.9%, smoothed)" in out.text
    assert "8 of 37 posts about version 4.2.0." in out.text


def test_the_same_issue_has_the_same_post_count_everywhere(seeded_server: Server) -> None:  # noqa: F811
    store, seeded = seeded_server.store, seeded_server.seeded
    issue_id = seeded.issues["sync"]
    # A fourth post joins the issue and the stored size is stale: every surface must still say the same.
    with store.transaction() as session:
        extra = session.scalar(select(Post.id).where(Post.id.not_in(
            select(IssuePost.post_id).where(IssuePost.issue_id == issue_id))).order_by(Post.id))
        session.add(IssuePost(issue_id=issue_id, post_id=extra, similarity=0.5))
        session.get(Issue, issue_id).size = 99  # type: ignore[union-attr]
    with store.sessions() as session:
        truth = session.scalar(select(func.count()).select_from(IssuePost).where(IssuePost.issue_id == issue_id))
        now = datetime.now(UTC)
        report = build_report(session, None, now - timedelta(days=30), now + timedelta(minutes=1))
    assert truth == 4
    status, overview = seeded_server.get_json("/api/overview")
    assert status == 200
    on_overview = next(i["size"] for p in overview["products"] for i in p["issues"] if i["id"] == issue_id)
    status, listed = seeded_server.get_json("/api/issues")
    on_list = next(i["size"] for i in listed["issues"] if i["id"] == issue_id)
    status, detail = seeded_server.get_json(f"/api/issues/{issue_id}")
    in_report = next(i["posts"] for i in report["new_and_rising"] if i["issue_id"] == issue_id)
    in_cli = next(i["size"] for i in list_issues(store, "notely") if i["id"] == issue_id)
    assert on_overview == on_list == detail["size"] == detail["live"]["posts"] == in_report == in_cli == truth
    status, _, html = seeded_server.request("GET", f"/issues/{issue_id}")
    assert re.search(r'id="live-posts">4 posts now<', html)


def test_the_dashboard_sets_a_theme_by_hand_and_shows_it(seeded_server: Server) -> None:  # noqa: F811
    from tests.test_web_actions import Browserless

    s = seeded_server
    visitor = Browserless(s)
    sync, jotter_sync = s.seeded.issues["sync"], s.seeded.issues["jotter-sync"]
    status, headers, _ = visitor.post(f"/issues/{sync}/theme", {"new": "sync <b>troubles</b>"})
    assert status == 303 and headers["location"].startswith(f"/issues/{sync}?done=themed")
    with s.store.sessions() as session:
        theme_id = session.scalar(select(Issue.theme_id).where(Issue.id == sync))
    assert theme_id is not None
    assert visitor.post(f"/issues/{jotter_sync}/theme", {"to": str(theme_id)})[0] == 303
    assert visitor.post(f"/issues/{jotter_sync}/theme", {"to": "x"})[0] == 400
    _, _, html = s.request("GET", f"/issues/{sync}")
    assert "sync &lt;b&gt;troubles&lt;/b&gt;" in html and f'href="/issues/{jotter_sync}"' in html
    assert "set by hand" in html and "placed in theme" in html  # the history says what a person did
    status, detail = s.get_json(f"/api/issues/{jotter_sync}")
    assert detail["theme"]["id"] == theme_id and {p["slug"] for p in detail["theme"]["products"]} == {
        "notely", "jotter"}
