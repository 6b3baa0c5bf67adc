"""Pure detection: statistics, labels, states, product-level alerts, no look-ahead, incremental = replay."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np

from alerts.detect import Detector, Params, PostRow, end_of_day, replay
from alerts.stats import binom_sf
from tests.detect_data import burst, noisy, stream, unit

START = date(2026, 1, 1)


def alerts_of(days: list[dict]) -> list[tuple[str, str]]:
    return [(d["day"], a["kind"]) for d in days for a in d["alerts"]]


def test_binomial_tail_matches_exact_sum() -> None:
    for x, n, p in [(3, 50, 0.01), (8, 78, 0.0002), (20, 400, 0.03), (1, 10, 0.05), (30, 60, 0.4)]:
        exact = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))
        assert math.isclose(binom_sf(x, n, p), exact, rel_tol=1e-9)
    assert binom_sf(0, 10, 0.1) == 1.0 and binom_sf(11, 10, 0.1) == 0.0 and binom_sf(1, 100, 0.5) == 1.0


def test_steady_stream_raises_nothing_and_new_topic_is_caught_on_its_day() -> None:
    posts = stream(days=70)
    quiet = replay(posts, Params(), START + timedelta(days=14), START + timedelta(days=69))
    assert alerts_of(quiet) == []
    injected = burst(10**6, START + timedelta(days=40), 6)
    days = replay(sorted(posts + injected, key=lambda p: p.created_at), Params(), START + timedelta(days=14),
                  START + timedelta(days=69))
    fired = [(d["day"], a) for d in days for a in d["alerts"]]
    assert [(day, a["kind"]) for day, a in fired] == [("2026-02-10", "issue_new")]
    alert = fired[0][1]
    assert alert["figures"]["count"] == 6 and alert["figures"]["p_value"] < 1e-6
    assert alert["label"] == "button frozen after update" and alert["size"] == 6


def test_no_look_ahead() -> None:
    posts = stream(days=50) + burst(10**6, START + timedelta(days=45), 6)
    posts.sort(key=lambda p: p.created_at)
    cut = START + timedelta(days=44)
    early = [p for p in posts if p.created_at <= end_of_day(cut)]
    a = replay(early, Params(), START + timedelta(days=20), cut)
    b = replay(posts, Params(), START + timedelta(days=20), cut)
    assert a == b


def test_states_new_ongoing_resolved_reopened_with_cooldown() -> None:
    params = Params(resolve_after_days=5, cooldown_days=7, sensitivity=1e-6)  # only the injected topic
    posts = stream(days=80, seed=3)
    first_id = 10**6
    topic_posts = burst(first_id, START + timedelta(days=30), 6, seed=5)
    again = burst(first_id + 100, START + timedelta(days=60), 7, seed=5)  # same topic vector (same seed)
    days = replay(sorted(posts + topic_posts + again, key=lambda p: p.created_at), params,
                  START + timedelta(days=14), START + timedelta(days=79))
    kinds = [(d, k) for d, k in alerts_of(days)]
    assert kinds == [("2026-01-31", "issue_new"), ("2026-03-02", "issue_reopened")]


def test_established_topic_rising_is_flagged() -> None:
    rng = np.random.default_rng(11)
    topic = unit(rng.normal(size=32))
    posts = stream(days=60, seed=21)
    extra = []
    pid = 10**6
    from datetime import UTC, datetime

    for d in range(60):
        day = START + timedelta(days=d)
        n = 1 if d < 45 else 9  # one a day for weeks, then nine a day
        for i in range(n):
            pid += 1
            extra.append(PostRow(id=pid, created_at=datetime(day.year, day.month, day.day, 8 + i, tzinfo=UTC),
                                 embedding=noisy(rng, topic), unmet=True, need_type="problem", rating=2.0,
                                 negative=True, text=f"widget freezes home screen {i}"))
    days = replay(sorted(posts + extra, key=lambda p: p.created_at), Params(), START + timedelta(days=14),
                  START + timedelta(days=59))
    issue_alerts = [a for a in alerts_of(days) if a[1].startswith("issue_")]
    assert issue_alerts == [("2026-02-15", "issue_rising")]  # (the product's negative share rises too)


def test_product_level_volume_spike_and_rating_drop() -> None:
    posts = stream(days=50, seed=8)
    from datetime import UTC, datetime

    day = START + timedelta(days=40)
    rng = np.random.default_rng(1)
    flood = [PostRow(id=10**6 + i, created_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                     embedding=unit(rng.normal(size=32)), unmet=False, rating=1.0, negative=True, text="terrible")
             for i in range(250)]
    days = replay(sorted(posts + flood, key=lambda p: p.created_at), Params(), START + timedelta(days=14),
                  START + timedelta(days=49))
    fired = alerts_of(days)
    assert ("2026-02-10", "volume_spike") in fired and ("2026-02-10", "rating_drop") in fired
    assert ("2026-02-10", "sentiment_drop") in fired
    assert all(d == "2026-02-10" for d, kind in fired if not kind.startswith("issue_"))


def test_incremental_runs_equal_one_replay() -> None:
    posts = sorted(stream(days=45) + burst(10**6, START + timedelta(days=38), 6), key=lambda p: p.created_at)
    detector = Detector(Params())
    last = None
    fired = []
    for d in range(45):
        day = START + timedelta(days=d)
        todays = [p for p in posts if p.created_at.date() == day]
        half = len(todays) // 2
        for chunk, hour in ((todays[:half], 11), (todays[half:], 23)):  # two runs a day
            from datetime import UTC, datetime

            as_of = datetime(day.year, day.month, day.day, hour, 59, 59, tzinfo=UTC)
            events, last = detector.run(chunk, as_of, last_evaluated=last)
            fired += [(e.day.isoformat(), e.kind) for e in events]
    once = replay(posts, Params(), START, START + timedelta(days=44))
    assert ("2026-02-08", "issue_new") in fired
    assert fired == [(d["day"], a["kind"]) for d in once for a in d["alerts"]]
