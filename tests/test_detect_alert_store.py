"""Alert correctness through the store: recorded <=> queued, one as-of day, quotes, merges with stable ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alerts.issues import backtest, list_issues, run_detect, survivor_id
from classify.sentences import split_sentences
from store.models import Alert, Issue, IssuePost
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from tests.test_detect_emerging import drifting_topics

BURST_DAY = date(2026, 2, 5)


def _recorded_vs_queued(store: Any) -> tuple[dict[int, int], dict[int, int]]:
    with store.sessions() as session:
        recorded = {i.id: sum((i.stats or {}).get("alert_counts", {}).values()) for i in session.scalars(select(Issue))}
        queued = dict(session.execute(select(Alert.issue_id, func.count()).where(Alert.issue_id.is_not(None))
                                      .group_by(Alert.issue_id)).all())
    return {k: v for k, v in recorded.items() if v}, queued


def test_an_alert_is_recorded_exactly_when_it_is_queued(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = burst(100000, BURST_DAY, 8)
    insert_posts(store, "acme", stream(days=40) + first)
    # The first run after an import sees the burst three days late: silent, and nothing recorded.
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 8))
    assert report.alerts == []
    assert _recorded_vs_queued(store) == ({}, {})
    # The topic is still rising two days later: this time it alerts (no cool-down left by a silent event).
    more = [replace(p, id=p.id + 1000, created_at=p.created_at + timedelta(days=4)) for p in first]
    insert_posts(store, "acme", more)
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 9))
    assert [a["kind"] for a in report.alerts] == ["issue_rising"]
    recorded, queued = _recorded_vs_queued(store)
    assert recorded == queued and sum(queued.values()) == 1


def test_one_as_of_day_for_trend_counts_and_header(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = burst(100000, BURST_DAY, 8)
    later = [replace(p, id=p.id + 1000, created_at=p.created_at + timedelta(days=1)) for p in first[:2]]
    insert_posts(store, "acme", stream(days=40) + first + later)
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 4))
    report = run_detect(store, config, "acme", as_of=datetime(2026, 2, 6, 20, 0))  # alerts Feb 5, a day late
    assert [(a["kind"], a["day"]) for a in report.alerts] == [("issue_new", "2026-02-05")]
    with store.sessions() as session:
        payload = session.scalars(select(Alert)).one().payload
    assert payload["day"] == "2026-02-05" and payload["as_of"].startswith("2026-02-05T23:59:59")
    assert payload["daily"][-1] == {"day": "2026-02-05", "count": 8}
    assert payload["issue"]["size"] == 8 == payload["figures"]["count"] == sum(d["count"] for d in payload["daily"])
    assert all(q["date"] <= "2026-02-05" for q in payload["quotes"])


def test_quotes_are_distinct_whole_sentences_from_distinct_posts(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    texts = ["The checkout button is frozen after the update. I tried twice.",
             "The checkout button is frozen after the update. Please fix!",
             "Checkout button frozen since yesterday. Very annoying.",
             "After the update the checkout button does nothing. Refund me.",
             "Frozen checkout button after updating. Lost a sale."]
    posts = []
    for i, p in enumerate(burst(100000, BURST_DAY, 10)):
        text = texts[i % len(texts)]
        posts.append(replace(p, text=text, evidence=split_sentences(text)[0],
                             url="https://apps.example/app/reviews" if i % 2 else None))
    insert_posts(store, "acme", stream(days=40) + posts)
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 4))
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    with store.sessions() as session:
        payload = session.scalars(select(Alert)).one().payload
    quotes = payload["quotes"]
    assert len(quotes) == 3
    assert len({q["text"] for q in quotes}) == 3 and len({q["post_id"] for q in quotes}) == 3
    by_id = {p.id: p for p in posts}
    for q in quotes:
        assert q["text"] in split_sentences(by_id[q["post_id"]].text)  # a whole sentence of that post
        # A URL that several posts share is the app's page, not the post: no link then.
        assert q["url"] is None or q["url"] == f"https://reviews.example/{q['post_id']}"


def test_a_merged_issue_keeps_one_id_and_redirects_the_other(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    early, later = drifting_topics(first_id=500000)
    base = stream(days=3, per_day=5)  # a little product volume around the topics
    insert_posts(store, "acme", base + early)
    run_detect(store, config, "acme", as_of=datetime(2026, 1, 3))
    with store.sessions() as session:
        ids = sorted(session.scalars(select(Issue.id).where(Issue.state != "candidate")))
    assert len(ids) == 2
    older = ids[0]
    insert_posts(store, "acme", later)
    report = run_detect(store, config, "acme", as_of=datetime(2026, 1, 4))
    assert report.issues_merged == 1
    with store.sessions() as session:
        gone = session.get(Issue, ids[1])
        assert gone is not None and gone.state == "merged" and gone.merged_into == older
        assert survivor_id(session, ids[1]) == older and survivor_id(session, older) == older
        moved = session.scalar(select(func.count()).select_from(IssuePost).where(IssuePost.issue_id == older))
        left = session.scalar(select(func.count()).select_from(IssuePost).where(IssuePost.issue_id == ids[1]))
    assert moved == 48 and left == 0
    listed = list_issues(store, "acme")
    assert [i["id"] for i in listed] == [older] and listed[0]["size"] == 48


def test_backtest_alerts_carry_label_keywords_version_kind_and_figures(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    days = backtest(store, config, "acme", date(2026, 2, 1), date(2026, 2, 7))
    alerts = [a for d in days for a in d["alerts"]]
    assert all(set(d) == {"day", "alerts"} for d in days) and len(alerts) == 1
    alert = alerts[0]
    assert {"label", "keywords", "version", "kind", "figures"} <= set(alert)
    assert alert["version"] == "2.0" and alert["kind"] == "issue_new" and alert["keywords"]
    assert alert["figures"]["count"] == 8 and alert["figures"]["p_value"] < 1e-6
