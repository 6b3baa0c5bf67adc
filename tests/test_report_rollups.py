"""The report built from the rollups equals the report built from the posts (SQLite and PostgreSQL).

On the hand-built comparison store, the story store and a small seeded bench store; with periods
that start and end at midnight and periods cut mid-day (whose edge days come from the posts).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bench.report import populate
from store import rollups
from store.db import Store
from tests import report_data as rd
from tests import report_story as st
from voxpop.report import build_report, rollup_queries


def _both(store: Store, products: Any, since: datetime, until: datetime, jobs: Any = None) -> tuple[Any, Any]:
    with store.sessions() as session:
        fast = build_report(session, products, since, until, jobs, generated_at=until, threads=1)
        slow = build_report(session, products, since, until, jobs, generated_at=until, threads=1,
                            from_rollups=False)
    return fast, slow


@pytest.mark.parametrize("shift", [timedelta(0), timedelta(hours=7, minutes=13)])
def test_report_from_rollups_equals_report_from_posts(store: Store, shift: timedelta) -> None:
    with store.transaction() as session:
        rd.build(session)
    fast, slow = _both(store, ["ours", "rival", "idle"], rd.SINCE + shift, rd.UNTIL - shift, rd.JOBS)
    assert fast == slow
    assert sum(p["volume"] for p in fast["products"]) > 0


def test_story_report_from_rollups_equals_report_from_posts(store: Store) -> None:
    with store.transaction() as session:
        st.build(session)
    for since, until in ((st.SINCE, st.UNTIL), (st.SINCE + timedelta(hours=30), st.UNTIL - timedelta(hours=5)),
                         (st.SINCE + timedelta(days=3, hours=10), st.SINCE + timedelta(days=4, hours=6))):
        fast, slow = _both(store, None, since, until, st.JOBS)
        assert fast == slow
        assert fast["headline"]


def test_part_days_are_read_once_per_report_on_every_thread(store: Store) -> None:
    """A period cut mid-day reads each part day from the posts once, whichever of the report's threads asks
    first (the totals before and in the last week, the cubes, the job map), and the report is still the
    posts' report."""
    from sqlalchemy import event

    with store.transaction() as session:
        st.build(session)
    since, until = st.SINCE + timedelta(hours=30), st.UNTIL - timedelta(hours=5)
    reads: list[tuple[str, str]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "part AS MATERIALIZED" in statement:
            reads.append((statement, repr(parameters)))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.sessions() as session:
            fast = build_report(session, None, since, until, st.JOBS, generated_at=until, threads=2)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    with store.sessions() as session:
        slow = build_report(session, None, since, until, st.JOBS, generated_at=until, threads=1, from_rollups=False)
    assert fast == slow
    assert len(reads) >= 4  # the period's two ends, the day its halves meet, the previous period's ends
    assert len(set(reads)) == len(reads)


def test_bench_store_report_from_rollups_equals_report_from_posts(sqlite_store: Store) -> None:
    populate(sqlite_store, 3000, seed=7)
    with sqlite_store.sessions() as session:  # the loader's in-memory sums are the posts' rollups
        checked = rollups.verify(session)
    assert checked["differences"] == 0 and checked["issue_differences"] == 0 and checked["rows"] > 0
    end = datetime(2026, 11, 1, tzinfo=UTC)
    for days in (30, 365):
        fast, slow = _both(sqlite_store, None, end - timedelta(days=days), end)
        assert fast == slow
        assert fast["products"][0]["coverage"]["classified"] > 0


def test_a_report_leaving_sections_out_has_every_other_section_as_the_whole_report(sqlite_store: Store) -> None:
    from voxpop.report.build import OPTIONAL_SECTIONS

    populate(sqlite_store, 3000, seed=11)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with sqlite_store.sessions() as session:
        kw: dict[str, Any] = {"generated_at": end, "threads": 1}
        whole = build_report(session, None, end - timedelta(days=90), end, **kw)
        part = build_report(session, None, end - timedelta(days=90), end, leave_out=OPTIONAL_SECTIONS, **kw)
        with pytest.raises(ValueError, match="unknown sections"):
            build_report(session, None, end - timedelta(days=90), end, leave_out=["headline"])
    assert whole["job_map"]["steps"] and whole["segments"] and whole["new_and_rising"]
    assert set(whole) - set(part) == set(OPTIONAL_SECTIONS)
    assert part == {k: v for k, v in whole.items() if k not in OPTIONAL_SECTIONS}


@pytest.mark.parametrize("spans", [rollup_queries.FULL, rollup_queries.VOLUME, rollup_queries.LABELS])
@pytest.mark.parametrize("first, days", [(date(2025, 11, 1), 365), (date(2026, 2, 25), 9), (date(2026, 3, 4), 1),
                                         (date(2024, 1, 31), 800)])
def test_pieces_tile_the_days_with_whole_rows(spans: tuple[int, ...], first: date, days: int) -> None:
    found = rollup_queries.pieces((first, first + timedelta(days=days)), spans)
    assert found[0][1] == first and found[-1][2] == first + timedelta(days=days)
    for (span, a, b), nxt in zip(found, found[1:] + [None], strict=True):
        assert span in spans and a < b and (nxt is None or (nxt[1] == b and nxt[0] != span))
        day = a
        while day < b:  # every row of the range starts where its span starts
            assert rollups.span_start(day, span) == day
            day = rollups.span_end(day, span)
        assert day == b
    if days == 365 and spans == rollup_queries.LABELS:  # a year reads months, not 52 weeks
        assert sum(1 for s, _, _ in found if s == rollups.LABELS_MONTH) == 1 and len(found) <= 5


def _issue_with_versions(store: Store) -> int:
    """An issue whose posts name two versions first seen on the same day: 2.1 at 09:00, 2.0 at 15:00 with
    more posts later, so only the time of day tells which came first."""
    from store.claims import ClassificationRow, claim_pending, save_classifications
    from store.models import Issue, IssuePost
    from store.repo import PostRecord, ensure_product, upsert_posts

    day = datetime(2026, 3, 4, tzinfo=UTC)
    plan = [("2.1", day + timedelta(hours=9), "negative", "sync"),
            ("2.0", day + timedelta(hours=15), "negative", "sync"),
            ("2.0", day + timedelta(days=2, hours=1), "positive", "share"),
            ("2.0", day + timedelta(days=3), "negative", None),
            (None, day + timedelta(days=3, hours=4), "negative", "sync")]
    with store.transaction() as session:
        pid = ensure_product(session, "acme", own=True).id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id=str(i), text=f"crash {i}", version=v,
                                               created_at=at) for i, (v, at, _, _) in enumerate(plan)])
        claimed = sorted(claim_pending(session, "w", 10), key=lambda p: p.id)
        save_classifications(session, "w", [ClassificationRow(
            post_id=p.id, model_version="m", sentiment=sentiment, sentiment_score=0.9, need_type="problem",
            need_score=0.9, unmet_need=True, jobs=[{"job": job, "score": 0.8}] if job else [], evidence=None,
            embedding=None, step="use" if k % 2 else "set-up") for k, (p, (_, _, sentiment, job)) in
            enumerate(zip(claimed, plan, strict=True))])
        issue = Issue(product_id=pid, label="crash", keywords=[], state="ongoing", size=len(plan),
                      daily_counts={}, stats={})
        session.add(issue)
        session.flush()
        session.add_all(IssuePost(issue_id=issue.id, post_id=p.id, similarity=0.5) for p in claimed)
        session.flush()
        rollups.refresh_issues(session, [issue.id])
        return int(issue.id)


@pytest.mark.parametrize("since, until", [
    (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)),  # whole days: the tie is in the rollups
    (datetime(2026, 3, 4, 8, tzinfo=UTC), datetime(2026, 3, 7, 2, tzinfo=UTC)),  # cut days: edges from the posts
    (datetime(2026, 3, 4, 12, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))])  # 2.1 falls outside the period
def test_issue_details_and_issues_per_step_from_rollups_equal_them_from_posts(
        sqlite_store: Store, since: datetime, until: datetime) -> None:
    from voxpop.report import jobmap_queries, queries

    issue_id = _issue_with_versions(sqlite_store)
    with sqlite_store.sessions() as session:
        fast = rollup_queries.issue_details(session, [issue_id], since, until)
        slow = queries.issue_details(session, [issue_id], since, until)
        assert fast == slow
        assert rollup_queries.step_issues(session, [1], since, until) == \
            jobmap_queries.step_issues(session, [1], since, until)
    if since.hour == 0:  # the whole period: 2.0 is named most, 2.1 first (by three hours on the same day)
        assert fast[issue_id]["first_version"] == "2.1" and fast[issue_id]["versions"][0]["version"] == "2.0"
        assert fast[issue_id]["negative"] == 4 and fast[issue_id]["jobs"] == {"sync": 3, "share": 1}
