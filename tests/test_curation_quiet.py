"""Curation that does not make noise: a split too small to be an issue makes none, posts people call
"not an issue" stay out of issues across detect runs, and a reopened issue's page says why."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import delete, func, select

from alerts.issues import backtest, run_detect
from store.models import AuditLog, DetectorState, Issue, IssuePost, PostExclusion
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from tests.web_support import serve
from voxpop import curation
from voxpop.cli import main

BURST_DAY = date(2026, 2, 5)


def _issue_of(session: Any, post_id: int) -> list[int]:
    return list(session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == post_id)))


def _issue_count(session: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(Issue).where(Issue.state != "candidate")) or 0)


def _detect_again_from_scratch(store: Any, config: Any, as_of: datetime) -> None:
    """Forget the detector's cursor (as a rebuild would) so every post is read again."""
    with store.transaction() as session:
        session.execute(delete(DetectorState))
    run_detect(store, config, "acme", as_of=as_of)


def _burst_issue(store: Any) -> int:
    with store.sessions() as session:
        return int(session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == 100000)).one())


def test_a_small_split_makes_no_issue_and_its_posts_stay_out(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    issue_id = _burst_issue(store)
    with store.transaction() as session:
        before = _issue_count(session)
        assert session.get(Issue, issue_id).state == "new"
        small = curation.split_issue(session, issue_id, post_ids=[100000, 100001], by="ann")
    assert small is None
    with store.sessions() as session:
        assert _issue_count(session) == before  # no new issue, so nothing to announce
        assert session.scalar(select(func.count()).select_from(Issue).where(Issue.state == "new")) == 1
        assert _issue_of(session, 100000) == [] and _issue_of(session, 100001) == []
        assert session.get(Issue, issue_id).size == 6
        marks = {r.post_id: (r.reason, r.issue_id, r.by) for r in session.scalars(select(PostExclusion))}
        assert marks == {100000: ("split", issue_id, "ann"), 100001: ("split", issue_id, "ann")}
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "split")).one()
        assert entry.details["new_issue"] is None and entry.details["unassigned"] == [100000, 100001]

    # The complaint goes on: new posts join the issue; the split-off posts do not come back.
    insert_posts(store, "acme", burst(200000, BURST_DAY + timedelta(days=1), 8))
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 6))
    _detect_again_from_scratch(store, config, datetime(2026, 2, 6))
    with store.sessions() as session:
        assert _issue_of(session, 200000) == [issue_id]
        assert _issue_of(session, 100000) == [] and _issue_of(session, 100001) == []
        assert _issue_of(session, 100002) == [issue_id]  # posts people left alone still count
    # A replay treats them the same way: the issue's first alert no longer quotes them.
    quoted = {q["post_id"] for day in backtest(store, config, "acme", BURST_DAY, BURST_DAY)
              for a in day["alerts"] if a.get("issue_id") == issue_id for q in a.get("quotes", [])}
    assert not quoted & {100000, 100001}


def test_not_an_issue_holds_across_detect(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    issue_id = _burst_issue(store)
    url = store.engine.url.render_as_string(hide_password=False)
    env = {"VOXPOP_DATABASE_URL": url, "VOXPOP_CONFIG": "", "VOXPOP_USER": "ann"}
    done = CliRunner().invoke(main, ["issue", "not-an-issue", str(issue_id), "--posts", "100003,100004", "--json"],
                              env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert (out["action"], out["posts"], out["size"], out["by"]) == ("not_an_issue", [100003, 100004], 6, "ann")
    refused = CliRunner().invoke(main, ["issue", "not-an-issue", str(issue_id), "--posts", "100003"], env=env)
    assert refused.exit_code == 1 and f"post(s) 100003 are not in issue {issue_id}" in refused.output

    insert_posts(store, "acme", burst(200000, BURST_DAY + timedelta(days=1), 8))
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 6))
    _detect_again_from_scratch(store, config, datetime(2026, 2, 7))
    with store.sessions() as session:
        assert _issue_of(session, 100003) == [] and _issue_of(session, 100004) == []
        assert _issue_of(session, 200000) == [issue_id]
        assert {r.reason for r in session.scalars(select(PostExclusion))} == {"not_an_issue"}
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "not_an_issue").order_by(AuditLog.id)).all()
        assert [(r.issue_id, r.post_id) for r in rows] == [(None, 100003), (None, 100004), (issue_id, None)]
        assert all(r.by == "ann" for r in rows)


def _page(store: Any, issue_id: int) -> str:
    import http.client
    from urllib.parse import urlsplit

    from voxpop.web.app import create_app

    urls: Iterator[str] = serve(create_app(store, None))
    url = next(urls)
    try:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("GET", f"/issues/{issue_id}")
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        urls.close()


def test_reopened_issue_page_shows_the_posts_that_brought_it_back(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    today = datetime.now(UTC).date()
    burst_day = today - timedelta(days=12)
    insert_posts(store, "acme", stream(days=40, start=today - timedelta(days=41)) + burst(100000, burst_day, 8))
    run_detect(store, config, "acme", as_of=datetime.combine(burst_day, datetime.min.time()))
    issue_id = _burst_issue(store)
    with store.transaction() as session:
        curation.resolve_issue(session, issue_id, by="ann")
    now = datetime.now(UTC)
    comeback = burst(500000, today, 4, hours=(0,))
    comeback = [type(p)(**{**{f: getattr(p, f) for f in p.__slots__}, "created_at": now + timedelta(seconds=i + 1),
                           "text": f"checkout still <b>frozen</b> take {i}"}) for i, p in enumerate(comeback)]
    insert_posts(store, "acme", comeback)
    run_detect(store, config, "acme", as_of=now + timedelta(minutes=1))
    with store.sessions() as session:
        assert session.get(Issue, issue_id).state == "reopened"
    html = _page(store, issue_id)
    reason = html.split('id="reopen-reason"')[1].split("</div>")[0]
    assert f"came back after ann resolved it on {now.date().isoformat()}" in reason
    assert "4 posts since the resolution brought it back" in reason
    assert "#500000" in reason and "#500003" in reason and "#100000" not in reason
    assert "&lt;b&gt;frozen&lt;/b&gt;" in reason and "<b>frozen" not in reason

    with store.transaction() as session:  # now by hand: the page names the action
        curation.resolve_issue(session, issue_id, by="ann")
        curation.reopen_issue(session, issue_id, by="bob")
    reason = _page(store, issue_id).split('id="reopen-reason"')[1].split("</div>")[0]
    assert f"reopened by bob on {datetime.now(UTC).date().isoformat()}" in reason and "#500000" not in reason
