"""Detection and backtest respect curation: rename, merge, split, mute, resolve, reopen, relabelled posts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.issues import backtest, list_issues, run_detect
from store.models import Alert, Issue, IssuePost
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from voxpop import curation

BURST_DAY = date(2026, 2, 5)


def _burst_issue(store: Any) -> int:
    with store.sessions() as session:
        return int(session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == 100000)).one())


def _alerts(store: Any) -> list[Alert]:
    with store.sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def _days(store: Any, config: Any, first: int, last: int) -> None:
    for day in range(first, last + 1):
        run_detect(store, config, "acme", as_of=datetime(2026, 2, day))


@pytest.fixture
def acme(store: Any, tmp_path: Path) -> tuple[Any, Any]:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    return store, config


def test_renamed_issue_keeps_its_name_as_it_grows_and_alerts_with_it(acme: tuple[Any, Any]) -> None:
    store, config = acme
    _days(store, config, 1, 5)
    issue_id = _burst_issue(store)
    with store.transaction() as session:
        curation.rename_issue(session, issue_id, "Checkout freezes after 2.0", by="ann")
    # The same complaint triples two weeks later: the issue doubles (a relabel is due) and rises.
    insert_posts(store, "acme", burst(300000, date(2026, 2, 19), 20))
    _days(store, config, 6, 19)
    with store.sessions() as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None and issue.size >= 16 and issue.label == "Checkout freezes after 2.0"
    rising = [a for a in _alerts(store) if a.issue_id == issue_id and a.kind == "issue_rising"]
    assert rising and rising[0].payload["issue"]["label"] == "Checkout freezes after 2.0"
    listed = next(i for i in list_issues(store, "acme") if i["id"] == issue_id)
    assert listed["label"] == "Checkout freezes after 2.0" and listed["label_source"] == "human"


def test_merged_issue_never_takes_posts_or_alerts_again(acme: tuple[Any, Any]) -> None:
    store, config = acme
    _days(store, config, 1, 5)
    burst_id = _burst_issue(store)
    with store.sessions() as session:
        other = session.scalars(select(Issue.id).where(Issue.state == "ongoing", Issue.id != burst_id)
                                .order_by(Issue.size.desc())).first()
    assert other is not None
    with store.transaction() as session:
        curation.merge_issue(session, burst_id, into=other, by="ann")
    insert_posts(store, "acme", burst(300000, date(2026, 2, 19), 20))
    _days(store, config, 6, 19)
    with store.sessions() as session:
        assert session.scalars(select(IssuePost).where(IssuePost.issue_id == burst_id)).first() is None
        gone = session.get(Issue, burst_id)
        assert gone is not None and gone.state == "merged"
    assert not [a for a in _alerts(store) if a.issue_id == burst_id and a.created_at > datetime.now(UTC)
                - timedelta(minutes=5) and a.kind != "issue_new"]
    assert all(i["id"] != burst_id for i in list_issues(store, "acme"))
    survivor = next(i for i in list_issues(store, "acme") if i["id"] == other)
    assert survivor["merged_from"] == [burst_id] and survivor["size"] >= 8


def test_muted_issue_never_alerts_until_its_date(acme: tuple[Any, Any]) -> None:
    store, config = acme
    # Two early posts of the burst's topic form a candidate the team already knows about.
    insert_posts(store, "acme", burst(300000, date(2026, 2, 3), 2))
    _days(store, config, 1, 3)
    with store.sessions() as session:
        issue_id = session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == 300000)).one()
    with store.transaction() as session:
        curation.mute_issue(session, issue_id, until=date(2026, 2, 20), by="ann", today=date(2026, 2, 3))
    _days(store, config, 4, 9)
    assert _burst_issue(store) == issue_id  # the burst of day 5 joined the muted issue ...
    assert [a.kind for a in _alerts(store) if a.issue_id == issue_id] == []  # ... and queued nothing
    with store.transaction() as session:
        curation.mute_issue(session, issue_id, until=date(2026, 2, 16), by="ann", today=date(2026, 2, 9))
    insert_posts(store, "acme", burst(400000, date(2026, 2, 15), 12))
    insert_posts(store, "acme", burst(500000, date(2026, 2, 16), 12, seed=99))
    _days(store, config, 10, 16)
    kinds = [(a.kind, a.payload["day"]) for a in _alerts(store) if a.issue_id == issue_id]
    assert kinds == [("issue_rising", "2026-02-16")]  # the 15th was still muted; the 16th is the mute's end


def test_backtest_applies_rename_mute_and_merge(acme: tuple[Any, Any]) -> None:
    store, config = acme
    _days(store, config, 1, 5)
    issue_id = _burst_issue(store)
    plain = [a for d in backtest(store, config, "acme", date(2026, 2, 5), date(2026, 2, 5)) for a in d["alerts"]]
    assert [a["kind"] for a in plain] == ["issue_new"] and "issue_id" not in plain[0]
    with store.transaction() as session:
        curation.rename_issue(session, issue_id, "Checkout freezes", by="ann")
    renamed = [a for d in backtest(store, config, "acme", date(2026, 2, 5), date(2026, 2, 5)) for a in d["alerts"]]
    assert [(a["label"], a["issue_id"]) for a in renamed] == [("Checkout freezes", issue_id)]
    with store.sessions() as session:
        other = session.scalars(select(Issue.id).where(Issue.state == "ongoing", Issue.id != issue_id)).first()
    assert other is not None
    with store.transaction() as session:
        curation.merge_issue(session, issue_id, into=other, by="ann")
    merged = [a for d in backtest(store, config, "acme", date(2026, 2, 5), date(2026, 2, 5)) for a in d["alerts"]]
    assert [a["issue_id"] for a in merged] == [other]
    with store.transaction() as session:
        curation.mute_issue(session, other, until=date(2026, 2, 6), by="ann", today=date(2026, 2, 5))
    assert [a for d in backtest(store, config, "acme", date(2026, 2, 5), date(2026, 2, 5)) for a in d["alerts"]] == []


def test_a_post_relabelled_as_praise_stays_out_of_issues(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    with store.transaction() as session:
        for pid in (100000, 100001):
            curation.label_post(session, pid, need="praise", sentiment="positive", by="ann")
    _days(store, config, 1, 5)
    with store.sessions() as session:
        members = set(session.scalars(select(IssuePost.post_id).where(IssuePost.post_id.between(100000, 100007))))
    assert members == {100002, 100003, 100004, 100005, 100006, 100007}


def test_resolved_issue_reopens_on_new_posts_with_them_as_evidence(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    today = datetime.now(UTC).date()
    burst_day = today - timedelta(days=12)
    insert_posts(store, "acme", stream(days=40, start=today - timedelta(days=41)) + burst(100000, burst_day, 8))
    run_detect(store, config, "acme", as_of=datetime.combine(burst_day, datetime.min.time()))
    run_detect(store, config, "acme", as_of=datetime.combine(today - timedelta(days=1), datetime.min.time()))
    issue_id = _burst_issue(store)
    with store.transaction() as session:
        curation.resolve_issue(session, issue_id, by="ann")
    # Same-day posts from before the resolution do not bring it back.
    run_detect(store, config, "acme")
    with store.sessions() as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None and issue.state == "resolved"
    now = datetime.now(UTC)
    comeback = [p for p in burst(500000, today, 8, hours=(0,))]
    comeback = [type(p)(**{**{f: getattr(p, f) for f in p.__slots__}, "created_at": now + timedelta(seconds=i + 1)})
                for i, p in enumerate(comeback)]
    insert_posts(store, "acme", comeback)
    run_detect(store, config, "acme", as_of=now + timedelta(minutes=1))
    with store.sessions() as session:
        issue = session.get(Issue, issue_id)
        assert issue is not None and issue.state == "reopened"
    reopened = [a for a in _alerts(store) if a.issue_id == issue_id and a.kind == "issue_reopened"]
    assert len(reopened) == 1
    assert {q["post_id"] for q in reopened[0].payload["quotes"]} <= set(range(500000, 500008))
    assert [e.action for e in curation_history(store, issue_id)] == ["resolve"]


def curation_history(store: Any, issue_id: int) -> list[Any]:
    with store.sessions() as session:
        return curation.history(session, issue_id=issue_id)
