"""The detector's parts alone: state transitions, day tests and product-level tests, with no Detector around them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from alerts.day_tests import day_range, day_test, discoveries
from alerts.detect import Cluster, Detector, Event, Params
from alerts.product_tests import DayTotals, product_events, sum_days
from alerts.transitions import WATCH_KIND, record, transition

NOW = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
QUIET = date(2026, 2, 15)


def _cluster(state: str, **kw: object) -> Cluster:
    fields: dict[str, object] = {"last_seen": NOW - timedelta(hours=2), **kw}
    return Cluster(key=1, total=np.zeros(4), size=5, state=state, **fields)  # type: ignore[arg-type]


def test_transitions_follow_the_life_of_an_issue() -> None:
    step = {"cooldown_days": 7, "min_count": 3}
    fresh = _cluster("candidate")
    assert transition(fresh, NOW, 5, True, QUIET, **step) == "new" and fresh.state == "new"
    quiet = _cluster("candidate")
    assert transition(quiet, NOW, 5, False, QUIET, **step) is None and quiet.state == "ongoing"
    stale = _cluster("ongoing", last_seen=datetime(2026, 2, 1, tzinfo=UTC))
    assert transition(stale, NOW, 0, False, QUIET, **step) is None and stale.state == "resolved"
    back = _cluster("resolved", state_changed_at=NOW - timedelta(days=3))
    assert transition(back, NOW, 4, True, QUIET, **step) == "reopened" and back.state == "reopened"
    cooling = _cluster("ongoing", last_alert_at=NOW - timedelta(days=2))
    assert transition(cooling, NOW, 9, True, QUIET, **step) is None  # still in its cool-down
    assert transition(_cluster("ongoing"), NOW, 9, True, QUIET, **step) == "rising"


def test_record_counts_alerts_and_watch_notes_start_no_cool_down() -> None:
    c = _cluster("rising")
    record(c, Event(kind=WATCH_KIND, day=NOW.date(), key=1, state="rising", figures={}, version="2.0"), NOW)
    assert c.last_alert_at is None and c.watched == ["2.0"] and c.alert_counts == {"watch": 1}
    record(c, Event(kind="issue_rising", day=NOW.date(), key=1, state="rising", figures={}, version="2.0"), NOW)
    assert c.last_alert_at == NOW and c.version_alerts == ["2.0"] and c.alert_counts == {"watch": 1, "rising": 1}


def test_product_events_fire_a_volume_spike_once_per_cool_down() -> None:
    days = [(date(2026, 2, 1) + timedelta(days=i)).isoformat() for i in range(28)]
    totals = {d: DayTotals(n=40 + (i % 5), rating_sum=4.0 * 40, rating_sq=16.0 * 40, rating_n=40, negative=4,
                           classified=40) for i, d in enumerate(days)}
    totals["2026-03-01"] = DayTotals(n=200, rating_sum=4.0 * 200, rating_sq=16.0 * 200, rating_n=200, negative=20,
                                     classified=200)
    tw, tb = sum_days(totals, ["2026-03-01"]), sum_days(totals, days)
    last: dict[str, str] = {}
    found = product_events(Params(), totals, NOW, tw, tb, days, last, 0.001)
    assert [k for k, _ in found] == ["volume_spike"] and found[0][1]["count"] == 200
    last["volume_spike"] = (NOW - timedelta(days=1)).isoformat()
    assert product_events(Params(), totals, NOW, tw, tb, days, last, 0.001) == []


def test_release_tests_pool_small_releases_and_test_one_issue() -> None:
    from alerts.release_tests import current_release, version_test

    versions = {"1.0": ["2026-01-01", 100], "1.1": ["2026-01-10", 100], "1.2": ["2026-01-20", 10],
                "1.3": ["2026-01-25", 25]}
    order = ["1.0", "1.1", "1.2", "1.3"]
    release = current_release(versions, {}, order, Params(), date(2026, 1, 26))
    assert release is not None and (release.version, release.pooled, release.earlier, release.posts) == (
        "1.3", ["1.2", "1.3"], ["1.0", "1.1"], 35)
    assert current_release(versions, {}, order, Params(), date(2026, 1, 5)) is None  # one release only
    grown = Cluster(key=1, total=np.zeros(4), size=14, versions={"1.0": 2, "1.1": 2, "1.3": 10},
                    first_seen=datetime(2026, 1, 1, tzinfo=UTC))
    figures = version_test(grown, release, versions, Params())
    assert figures is not None and figures["count"] == 10 and figures["baseline_count"] == 4
    assert figures["p_value"] < 1e-4
    assert version_test(Cluster(key=2, total=np.zeros(4), versions={"1.3": 2}), release, versions, Params()) is None


def test_day_test_compares_the_window_with_the_baseline_days() -> None:
    baseline = day_range(date(2026, 2, 28), 14)
    assert baseline[0] == "2026-02-15" and baseline[-1] == "2026-02-28" and len(baseline) == 14
    steady = _cluster("ongoing", daily={d: 2 for d in baseline})
    figures = day_test(steady, 12, 40, baseline, 14 * 40, Params())
    assert (figures["count"], figures["baseline_count"], figures["scope"]) == (12, 28, "day")
    assert figures["expected"] == round((28 + 0.5) / (14 * 40 + 1) * 40, 3)  # half a pseudo-post smooths it
    assert figures["p_value"] < 1e-4
    brand_new = day_test(_cluster("candidate"), 3, 2, baseline, 560, Params())
    assert brand_new["total"] == 3 and brand_new["baseline_share"] > 0  # never a zero share, never x > n


def test_discoveries_control_the_family_then_apply_the_cut_and_the_floor() -> None:
    tests = {1: {"p_value": 1e-6, "count": 9}, 2: {"p_value": 0.004, "count": 9}, 3: {"p_value": 1e-6, "count": 2},
             4: {"p_value": 0.3, "count": 20}}
    found = discoveries(tests, alpha=0.001, fdr=0.05, min_count=3)
    assert found == {1}  # 2 is below the family's BH line but not the cut; 3 has too few posts
    assert all(t["tested"] == 4 for t in tests.values()) and tests[3]["significant"] is False
    assert discoveries({}, 0.001, 0.05, 3) == set()


def test_the_detector_says_the_length_of_its_embeddings() -> None:
    from tests.detect_data import DIM, stream

    detector = Detector(Params())
    assert detector.dim == 0
    detector.add_posts(stream(days=2))
    assert detector.dim == DIM
