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


def test_bench_store_report_from_rollups_equals_report_from_posts(sqlite_store: Store) -> None:
    populate(sqlite_store, 3000, seed=7)
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
