"""Detection through the store: one transaction per run, an incremental cursor, time travel, a read-only backtest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

import alerts.deliver
from alerts.issues import backtest, list_issues, run_detect
from store.models import Alert, Delivery, DetectorState, Issue, IssuePost, Post
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream

BURST_DAY = date(2026, 2, 5)


def _count(store: Any, model: Any) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def acme(store: Any, tmp_path: Path) -> tuple[Any, Any]:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    return store, config


def test_first_run_over_history_is_silent_then_daily_runs_alert_the_burst(acme: tuple[Any, Any]) -> None:
    store, config = acme
    first = run_detect(store, config, "acme", as_of=datetime(2026, 2, 1))
    assert first.posts > 2000 and first.issues_created >= 5 and first.alerts == []
    fired = []
    for day in range(2, 10):
        report = run_detect(store, config, "acme", as_of=datetime(2026, 2, day))
        assert report.posts < 150  # only the new day's posts are read
        fired += [(day, a["kind"], a["dedupe_key"]) for a in report.alerts]
    assert len(fired) == 1 and fired[0][:2] == (5, "issue_new")
    issue_id = int(fired[0][2].split(":")[1])
    assert fired[0][2] == f"issue:{issue_id}:new:1"
    with store.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.issue_id == issue_id and alert.payload["issue"]["label"] == "button frozen"
        assert len(alert.payload["quotes"]) == 3 and alert.payload["quotes"][0]["url"].startswith("https://")
        assert alert.payload["figures"]["p_value"] < 1e-10
        assert [d.target for d in session.scalars(select(Delivery))] == ["mailto:ops@example.com"]
        assert session.scalar(select(func.count()).select_from(IssuePost).where(IssuePost.issue_id == issue_id)) == 8
    issues = list_issues(store, "acme")
    burst_issue = next(i for i in issues if i["id"] == issue_id)
    assert burst_issue["state"] == "new" and burst_issue["size"] == 8  # stays new through its cool-down
    assert burst_issue["daily_counts"] == {"2026-02-05": 8} and len(burst_issue["example_post_ids"]) == 5
    assert burst_issue["keywords"] and burst_issue["first_seen"].startswith("2026-02-05")
    assert all(i["state"] != "candidate" for i in issues)


def test_as_of_never_looks_ahead_and_later_runs_pick_up_the_rest(acme: tuple[Any, Any]) -> None:
    store, config = acme
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 4))
    with store.sessions() as session:
        seen = session.scalar(select(func.count()).select_from(IssuePost).join(Post, Post.id == IssuePost.post_id)
                              .where(Post.created_at > datetime(2026, 2, 5, tzinfo=UTC)))
    assert seen == 0
    earlier = run_detect(store, config, "acme", as_of=datetime(2026, 2, 1))
    assert earlier.note and earlier.posts == 0
    later = run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    assert [a["kind"] for a in later.alerts] == ["issue_new"]


def test_cursor_waits_for_unclassified_posts_and_counts_late_arrivals_once(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    posts = stream(days=30)
    insert_posts(store, "acme", posts)
    late = burst(200000, date(2026, 1, 20), 3, text="late arrival about pricing")
    insert_posts(store, "acme", late[:1], status="pending")  # not classified yet: the cursor stops before it
    run_detect(store, config, "acme", as_of=datetime(2026, 1, 30))
    with store.sessions() as session:
        state = session.get(DetectorState, 1)
        assert state is not None and state.last_post_id == 199999
        session.execute(update(Post).where(Post.id == 200000).values(status="skipped"))
        session.commit()
    insert_posts(store, "acme", late[1:])  # classified, old dates, higher ids: late arrivals
    report = run_detect(store, config, "acme", as_of=datetime(2026, 1, 30))
    assert report.posts == 2
    assert run_detect(store, config, "acme", as_of=datetime(2026, 1, 30)).posts == 0
    with store.sessions() as session:
        linked = session.scalar(select(func.count()).select_from(IssuePost).where(IssuePost.post_id >= 200000))
    assert linked == 2


def test_a_failing_run_leaves_nothing_behind_and_a_rerun_alerts_once(acme: tuple[Any, Any], monkeypatch: Any) -> None:
    store, config = acme
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 4))
    before = (_count(store, Issue), _count(store, IssuePost))

    def boom(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("crash while queueing")

    monkeypatch.setattr(alerts.deliver, "queue_deliveries", boom)
    with pytest.raises(RuntimeError):
        run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    assert (_count(store, Issue), _count(store, IssuePost)) == before
    assert _count(store, Alert) == 0 and _count(store, Delivery) == 0
    monkeypatch.undo()
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    assert [a["kind"] for a in report.alerts] == ["issue_new"]
    assert _count(store, Alert) == 1 and _count(store, Delivery) == 1


def test_backtest_replays_days_and_writes_nothing(acme: tuple[Any, Any]) -> None:
    store, config = acme
    days = backtest(store, config, "acme", date(2026, 1, 25), date(2026, 2, 9))
    assert [d["day"] for d in days][:2] == ["2026-01-25", "2026-01-26"] and len(days) == 16
    fired = [(d["day"], a["kind"], a["label"]) for d in days for a in d["alerts"]]
    assert fired == [("2026-02-05", "issue_new", "button frozen")]
    assert _count(store, Issue) == 0 and _count(store, Alert) == 0 and _count(store, DetectorState) == 0


def test_competitor_with_the_same_issue_is_named(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path, products=[{"slug": "acme", "name": "Acme", "own": True},
                                             {"slug": "rival", "name": "Rival"}])
    insert_posts(store, "rival", burst(300000, date(2026, 2, 1), 6, seed=99), own=False)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8, seed=99))
    run_detect(store, config, "rival", as_of=datetime(2026, 2, 3))
    with store.sessions() as session:
        session.execute(update(Issue).where(Issue.product_id == 1).values(state="ongoing"))
        session.commit()
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 4))
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    assert [a["kind"] for a in report.alerts] == ["issue_new"]
    with store.sessions() as session:
        payload = session.scalars(select(Alert)).one().payload
    assert payload["competitors"][0]["product"] == "rival" and payload["competitors"][0]["similarity"] > 0.8


def test_unknown_product_is_a_job_error(store: Any, tmp_path: Path) -> None:
    from voxpop.operations import JobError

    with pytest.raises(JobError):
        run_detect(store, make_config(tmp_path), "nope")
    with pytest.raises(JobError):
        backtest(store, make_config(tmp_path), "nope", date(2026, 1, 1), date(2026, 1, 2))


def test_alert_time_is_independent_of_wall_clock(acme: tuple[Any, Any]) -> None:
    store, config = acme
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 5, 23, 0))
    assert report.as_of == "2026-02-05T23:00:00+00:00" and [a["kind"] for a in report.alerts] == ["issue_new"]
    assert datetime.fromisoformat(report.as_of) - datetime(2026, 2, 5, tzinfo=UTC) < timedelta(days=1)


def test_cli_detect_backtest_issues_and_alert(sqlite_url: str, smtp_server: Any, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from store.db import Store
    from voxpop.cli import main

    store = Store(sqlite_url)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    store.dispose()
    config = tmp_path / "voxpop.toml"
    config.write_text(
        f'database_url = "{sqlite_url}"\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n'
        f'[alerts]\nrecipients = ["ops@example.com"]\noutbox_dir = "{tmp_path / "outbox"}"\n'
        '[[products]]\nslug = "acme"\nname = "Acme"\nown = true\n', encoding="utf-8")

    def voxpop(*args: str) -> Any:
        result = CliRunner().invoke(main, ["--config", str(config), *args], env={"VOXPOP_DATABASE_URL": sqlite_url},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.output

    days = voxpop("backtest", "--product", "acme", "--from", "2026-02-01", "--to", "2026-02-07", "--json")
    assert [(d["day"], a["kind"]) for d in days for a in d["alerts"]] == [("2026-02-05", "issue_new")]
    voxpop("detect", "--product", "acme", "--as-of", "2026-02-04")
    report = voxpop("detect", "--product", "acme", "--as-of", "2026-02-05", "--json")
    assert [a["kind"] for a in report["alerts"]] == ["issue_new"]
    issues = voxpop("issues", "--product", "acme", "--json")
    assert any(i["label"] == "button frozen" and i["state"] == "new" for i in issues)
    sent = voxpop("alert", "--json")
    assert sent["sent"] == 1 and len(smtp_server.messages) == 1 and Path(sent["eml_paths"][0]).exists()
    assert voxpop("alert", "--json")["messages"] == 0


@pytest.mark.parametrize(("first_run", "alerted"), [(date(2026, 2, 6), True), (date(2026, 2, 9), False)])
def test_first_run_alerts_recent_news_only(store: Any, tmp_path: Path, first_run: date, alerted: bool) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    report = run_detect(store, config, "acme", as_of=datetime.combine(first_run, datetime.min.time()))
    assert bool(report.alerts) is alerted  # a burst two days back is still news; four days back it is not
