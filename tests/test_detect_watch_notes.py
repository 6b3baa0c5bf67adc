"""Room in a release and its watch notes alone (alerts.watch_notes), over hand-made release tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from alerts.clustering import Cluster
from alerts.policy import MERGED, OpenGate
from alerts.release_tests import ReleaseWindow
from alerts.watch_notes import (
    WATCH_MIN_LIFT,
    in_release_watch,
    issues_alerted_in,
    noted_lately,
    recent_releases,
    top_of_release,
    watch_notes,
)

ORDER = ["1.0", "1.1", "1.2", "1.3", "1.4"]
RELEASE = ReleaseWindow(version="1.4", pooled=["1.4"], earlier=["1.1", "1.2", "1.3"], posts=200)
POOLED = ReleaseWindow(version="1.4", pooled=["1.3", "1.4"], earlier=["1.0", "1.1", "1.2"], posts=260)


def _clusters(n: int, **by_key: dict[str, Any]) -> dict[int, Cluster]:
    rng = np.random.default_rng(n)
    out = {}
    for k in range(1, n + 1):
        out[k] = Cluster(key=k, total=rng.normal(size=8), size=12, state="ongoing", **by_key.get(f"c{k}", {}))
    return out


def _rise(p: float, *, count: int = 8, share: float = 0.2, baseline: float = 0.05,
          significant: bool = False) -> dict[str, Any]:
    return {"scope": "version", "significant": significant, "p_value": p, "count": count, "share": share,
            "baseline_share": baseline}


def _notes(tests: dict[int, dict[str, Any]], clusters: dict[int, Cluster], release: ReleaseWindow = RELEASE,
           alerted: list[tuple[int | None, str | None]] | None = None, top: int = 3) -> list[int]:
    picks = watch_notes(tests, clusters, release, ORDER, alerted or [], 0.2, release_top=top, min_count=3,
                        may_alert=OpenGate().may_alert)
    return [k for k, _ in picks]


def test_recent_releases_look_back_from_the_oldest_pooled_release() -> None:
    assert recent_releases(RELEASE, ORDER) == {"1.4", "1.3", "1.2"}
    assert recent_releases(POOLED, ORDER) == {"1.4", "1.2", "1.1"}
    assert recent_releases(ReleaseWindow("1.1", ["1.1"], ["1.0"], 30), ORDER) == {"1.1", "1.0"}
    c = Cluster(key=1, total=np.ones(4), watched=["1.1"], version_alerts=["1.0"])
    assert noted_lately(c, {"1.1"}) and noted_lately(c, {"1.0", "1.3"}) and not noted_lately(c, {"1.2", "1.3"})


def test_an_issue_noted_lately_is_not_noted_again_and_the_rest_come_strongest_first() -> None:
    clusters = _clusters(4, c1={"watched": ["1.3"]}, c2={"version_alerts": ["1.2"]}, c3={"watched": ["1.1"]})
    tests = {1: _rise(0.001), 2: _rise(0.002), 3: _rise(0.05), 4: _rise(0.01)}
    assert _notes(tests, clusters) == [4, 3]  # 1 and 2 were noted or alerted in the two releases before
    picks = watch_notes(tests, clusters, RELEASE, ORDER, [], 0.2, release_top=3, min_count=3,
                        may_alert=OpenGate().may_alert)
    assert picks[0][1] == {**tests[4], "watch_below": 0.2} and "watch_below" not in tests[4]
    assert _notes(tests, clusters, POOLED) == [1, 4]  # pooled with 1.3, the release looks back to 1.1 and 1.2


def test_a_note_needs_a_non_significant_rise_big_and_strong_enough() -> None:
    clusters = _clusters(6)
    tests = {1: _rise(0.01, significant=True), 2: _rise(0.3), 3: _rise(0.01, count=2),
             4: _rise(0.01, share=0.07, baseline=0.05), 5: _rise(0.04), 6: _rise(0.03)}
    assert 0.07 < WATCH_MIN_LIFT * 0.05
    assert _notes(tests, clusters) == [6, 5]
    clusters[6].state = MERGED  # the curation gate says it may not alert
    assert _notes(tests, clusters) == [5]
    assert _notes({**tests, 7: _rise(0.001)}, clusters) == [5]  # a test of a cluster gone since is skipped


def test_notes_fill_only_the_room_alerts_leave_in_the_release() -> None:
    clusters = _clusters(5, c1={"version_alerts": ["1.4"]})
    tests = {k: _rise(0.01 * k) for k in (2, 3, 4, 5)}
    assert issues_alerted_in(clusters.values(), "1.4", watched=True) == 1
    assert _notes(tests, clusters) == [2, 3]  # release_top 3, one issue alerted in 1.4 already
    assert _notes(tests, clusters, alerted=[(2, "1.4"), (None, None)]) == [3]  # today's alert takes 2 and room
    assert _notes(tests, clusters, alerted=[(2, "1.3")]) == [3, 4]  # an alert about another release takes no room here
    clusters[5].watched = ["1.4"]
    assert _notes(tests, clusters) == [2]  # a note given earlier in the release counts too
    assert _notes(tests, clusters, top=2) == []


def test_top_of_release_keeps_the_strongest_fresh_discoveries_up_to_release_top() -> None:
    clusters = _clusters(5, c1={"version_alerts": ["1.4"]}, c2={"watched": ["1.4"]})
    tests = {k: _rise(0.001 * (6 - k), significant=True) for k in range(1, 6)}
    assert top_of_release({1, 2, 3, 4, 5}, tests, "1.4", clusters, 3) == {5, 4}  # 1 alerted: room for two
    assert top_of_release({1, 3}, tests, "1.4", clusters, 3) == {3}  # already alerted in 1.4: not again
    assert top_of_release({2, 3, 4}, tests, "1.3", clusters, 1) == {4}  # another release has its own room
    assert top_of_release({3, 4}, tests, "1.4", clusters, 1) == set()


def test_in_release_watch_finds_the_entry_showing_the_notes_issue_for_its_release() -> None:
    entries = [{"version": "1.4", "with_versions": ["1.3"], "issue": 7, "figures": {"rank": 1}},
               {"version": "1.4", "with_versions": ["1.3"], "figures": {"rank": 2}}]  # a topic of no issue
    assert in_release_watch(7, "1.4", entries) is entries[0]
    assert in_release_watch(7, "1.3", entries) is entries[0]  # pooled into the watched release
    assert in_release_watch(7, "1.2", entries) is None  # another release: the note is news there
    assert in_release_watch(8, "1.4", entries) is None and in_release_watch(None, "1.4", entries) is None


def test_a_watch_note_the_release_watch_already_shows_is_not_repeated_in_the_backtest() -> None:
    """The same grown topic, told once: by the release watch, not again as a "Worth watching" note."""
    from datetime import timedelta

    from alerts.detect import WATCH_KIND, Params, replay
    from alerts.release_watch import RELEASE_WATCH_KIND, WatchSpec
    from tests.test_detect_emerging import START, _versioned_stream

    posts = _versioned_stream()
    window = (START + timedelta(days=14), START + timedelta(days=69))
    alone = [dict(a, day=d["day"]) for d in replay(posts, Params(), *window, watch=None) for a in d["alerts"]]
    notes = [a for a in alone if a["kind"] == WATCH_KIND]
    assert notes and notes[0]["version"] == "2.0"  # without the release watch the note is sent
    # A release watch that reads 2.0 the day it came (it waits for 60 posts at most) ranks that topic.
    both = [dict(a, day=d["day"]) for d in replay(posts, Params(), *window, watch=WatchSpec(max_wait=60))
            for a in d["alerts"]]
    shown = [a for a in both if a["kind"] == RELEASE_WATCH_KIND and a["version"] == "2.0"]
    assert notes[0]["issue"] in {a.get("issue") for a in shown}
    assert min(a["day"] for a in shown) <= notes[0]["day"]
    assert not [a for a in both if a["kind"] == WATCH_KIND and a["issue"] == notes[0]["issue"]]
    # Everything else is as it was: the discoveries, and the label the note had is the release watch's.
    assert [(a["day"], a["kind"]) for a in both if a["kind"].startswith("issue_")] == [
        (a["day"], a["kind"]) for a in alone if a["kind"].startswith("issue_") and a["kind"] != WATCH_KIND]
    assert notes[0]["label"] in {a["label"] for a in shown}
