"""Emerging issues: unmet-only seeding, release windows, FDR control, merges with stable ids, labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from alerts.detect import Detector, Params, PostRow, end_of_day, replay
from alerts.labels import is_stopword, label_issue, tokens
from alerts.policy import may_seed
from alerts.stats import benjamini_hochberg
from tests.detect_data import DIM, burst, noisy, stream, unit

START = date(2026, 1, 1)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# ---------------------------------------------------------------- seeding


def test_only_unmet_needs_seed_and_join_issues() -> None:
    assert may_seed("problem", "x") and may_seed("feature_request", "x")
    assert not may_seed("praise", "Export to PDF is effortless") and not may_seed("other", "crash")
    assert may_seed("question", "Why does the app crash when I export to PDF?")
    assert not may_seed("question", "How do I move a notebook to another account?")
    rng = np.random.default_rng(4)
    topic = unit(rng.normal(size=DIM))
    day = START + timedelta(days=1)
    kinds = ["praise"] * 6 + ["other"] * 3 + ["question"] * 2 + ["problem"] * 4
    texts = ["Sharing a page is effortless"] * 9 + ["How do I share a page?", "Why does sharing crash?"] + [
        "Sharing crashes"] * 4
    posts = [PostRow(id=i + 1, created_at=_at(day, 8 + i % 12), embedding=noisy(rng, topic, 0.2), unmet=True,
                     need_type=k, text=t) for i, (k, t) in enumerate(zip(kinds, texts, strict=True))]
    detector = Detector(Params(), keep_texts=50)
    detector.add_posts(posts)
    members = sorted(m.id for c in detector.clusters.values() for m in c.members)
    assert members == [11, 12, 13, 14, 15]  # the failure question and the four problems, never praise
    assert sum(t.n for t in detector.totals.values()) == len(posts)  # every post still counts in the totals


def test_a_praise_burst_never_becomes_an_issue() -> None:
    posts = stream(days=40)
    praise = [replace(p, need_type="praise", unmet=False, negative=False, text="sharing is effortless")
              for p in burst(10**6, START + timedelta(days=30), 12)]
    days = replay(sorted(posts + praise, key=lambda p: p.created_at), Params(), START + timedelta(days=14),
                  START + timedelta(days=39))
    assert [a for d in days for a in d["alerts"] if a["kind"].startswith("issue_")] == []


# ---------------------------------------------------------------- release windows


def _versioned_stream() -> list[PostRow]:
    """Version 1.0 for 30 days, 1.1 for 20, then 2.0; a new topic trickles in with 2.0, one post a day."""
    posts = []
    for p in stream(days=70, seed=5):
        d = (p.created_at.date() - START).days
        posts.append(replace(p, version="1.0" if d < 30 else "1.1" if d < 50 else "2.0"))
    rng = np.random.default_rng(9)
    topic = unit(rng.normal(size=DIM))
    for i in range(12):
        day = START + timedelta(days=50 + i)
        posts.append(PostRow(id=10**6 + i, created_at=_at(day, 9), embedding=noisy(rng, topic), unmet=True,
                             need_type="problem", rating=1.0, negative=True, version="2.0",
                             text="export to PDF crashes since 2.0"))
    return sorted(posts, key=lambda p: (p.created_at, p.id))


def test_an_issue_that_comes_with_a_release_is_reported_as_emerged_in_it() -> None:
    posts = _versioned_stream()
    days = replay(posts, Params(), START + timedelta(days=14), START + timedelta(days=69))
    fired = [(d["day"], a) for d in days for a in d["alerts"] if a["kind"].startswith("issue_")]
    assert len(fired) == 1
    day, alert = fired[0]
    assert alert["kind"] == "issue_new" and alert["version"] == "2.0"
    figures = alert["figures"]
    assert figures["scope"] == "version" and figures["version"] == "2.0" and figures["baseline_versions"] == [
        "1.0", "1.1"]
    assert figures["count"] >= 3 and figures["share"] > 10 * figures["baseline_share"]
    assert "2026-02-20" <= day <= "2026-02-28"
    # One post a day never clears the day test (min_count 3): without versions nothing fires.
    plain = [replace(p, version=None) for p in posts]
    days = replay(plain, Params(), START + timedelta(days=14), START + timedelta(days=69))
    assert [a for d in days for a in d["alerts"] if a["kind"].startswith("issue_")] == []


def test_release_windows_have_their_own_threshold() -> None:
    """``version_sensitivity`` alone decides release tests; the daily ``sensitivity`` leaves them alone."""
    posts = _versioned_stream()

    def version_alerts(params: Params) -> list[dict[str, Any]]:
        days = replay(posts, params, START + timedelta(days=14), START + timedelta(days=69))
        return [a for d in days for a in d["alerts"] if a["kind"].startswith("issue_") and a.get("version")]

    first = version_alerts(Params())[0]
    assert first["figures"]["p_value"] < Params().version_sensitivity
    stricter = version_alerts(Params(version_sensitivity=1e-12))  # needs more posts of 2.0 first
    assert stricter and stricter[0]["day"] > first["day"] and stricter[0]["figures"]["p_value"] < 1e-12
    only_release = version_alerts(Params(sensitivity=1e-12))
    assert [(a["day"], a["version"]) for a in only_release] == [(first["day"], "2.0")]


# ---------------------------------------------------------------- FDR


def test_benjamini_hochberg_step_up() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005], 0.05) == [True, True, True, True]
    assert benjamini_hochberg([0.001, 0.02, 0.04, 0.3], 0.05) == [True, True, False, False]
    assert benjamini_hochberg([0.02, 0.03], 0.01) == [False, False] and benjamini_hochberg([], 0.05) == []


def test_false_discovery_rate_is_controlled_across_many_tests() -> None:
    rng = np.random.default_rng(0)
    q, fdp, raw_false = 0.1, [], 0
    for _ in range(400):
        null = rng.uniform(size=90)
        real = rng.uniform(size=10) * 1e-3
        flags = benjamini_hochberg(list(null) + list(real), q)
        false = sum(flags[:90])
        fdp.append(false / max(1, sum(flags)))
        raw_false += int((null < q).sum())
    assert float(np.mean(fdp)) <= q  # BH: expected share of false discoveries <= q (here <= q * 90/100)
    assert raw_false / 400 > 5  # uncorrected testing at q would raise ~9 false alarms per day


def test_fdr_is_applied_across_the_clusters_of_one_day() -> None:
    posts = sorted(stream(days=50) + burst(10**6, START + timedelta(days=40), 6), key=lambda p: p.created_at)

    def issue_alerts(params: Params) -> list[dict[str, Any]]:
        days = replay(posts, params, START + timedelta(days=14), START + timedelta(days=49))
        return [a for d in days for a in d["alerts"] if a["kind"].startswith("issue_")]

    fired = issue_alerts(Params())
    assert len(fired) == 1 and fired[0]["figures"]["fdr"] == 0.05
    p, tested = fired[0]["figures"]["p_value"], fired[0]["figures"]["tested"]
    assert tested >= 1
    # The burst is the smallest p-value of its day: BH keeps it exactly when p <= q / m.
    assert issue_alerts(Params(fdr=0.9 * p * tested)) == []
    assert len(issue_alerts(Params(fdr=1.1 * p * tested))) == 1


# ---------------------------------------------------------------- merges


def drifting_topics(first_id: int = 1) -> tuple[list[PostRow], list[PostRow]]:
    """Two topics 60 degrees apart (separate issues), then posts between them that pull them together."""
    a = np.zeros(DIM, np.float32)
    a[0] = 1.0
    b = np.zeros(DIM, np.float32)
    b[0], b[1] = 0.5, np.sqrt(0.75)
    mid = unit(a + b)
    early = [PostRow(id=first_id + i, created_at=_at(START + timedelta(days=1), 8 + i), embedding=a, unmet=True,
                     need_type="problem", text="sync fails") for i in range(4)]
    early += [PostRow(id=first_id + 10 + i, created_at=_at(START + timedelta(days=2), 8 + i), embedding=b,
                      unmet=True, need_type="problem", text="sync slow") for i in range(4)]
    later = [PostRow(id=first_id + 100 + i, created_at=_at(START + timedelta(days=3), 1 + i % 20), embedding=mid,
                     unmet=True, need_type="problem", text="sync fails and is slow") for i in range(40)]
    return early, later


def test_clusters_that_drift_together_merge_into_the_older_one() -> None:
    early, later = drifting_topics()
    detector = Detector(Params(), keep_texts=100)
    detector.run(early, end_of_day(START + timedelta(days=2)), last_evaluated=None)
    assert len(detector.clusters) == 2
    older = next(k for k, c in detector.clusters.items() if c.first_seen and c.first_seen.day == 2)
    detector.run(later, end_of_day(START + timedelta(days=3)), last_evaluated=START + timedelta(days=2))
    assert len(detector.clusters) == 1 and list(detector.clusters) == [older]
    survivor = detector.clusters[older]
    assert survivor.size == 48 and len(survivor.members) == 48
    (gone, kept), = detector.merged
    assert kept == older and detector.folded[gone].merged_into == older


# ---------------------------------------------------------------- labels


PDF = [
    "Since the 4.2 update the app crashes every time I export a note to PDF.",
    "Export to PDF is broken after the latest update, the app just closes.",
    "PDF export crashes the app since updating to 4.2.",
    "Every PDF export makes the app crash now.",
    "App crashes immediately when I tap export to PDF.",
    "Whenever I export a long note to PDF the app freezes and then crashes.",
    "Crashing on PDF export, started right after the update.",
]
SYNC = [
    "Notes stopped syncing between my phone and laptop after the update.",
    "Sync fails after update, my laptop never gets the new notes.",
    "Since the last update sync fails every time on my tablet.",
    "My notes do not sync anymore since updating.",
    "Sync fails after the update, I lost an hour of notes.",
]
LOGIN = [
    "It keeps asking me to log in again and again.",
    "I get logged out every day and have to log in again.",
    "The app logs me out for no reason, then I must sign in again.",
    "Logged out again this morning, asked to log in again.",
]
BACKGROUND = [
    "Love this notes app, clean and fast.", "Great for my recipes and journals.", "Five stars, works well.",
    "Search finds my notes in a second.", "Tags keep my notebooks organised.", "I use it every day at work.",
] * 20


@pytest.fixture(scope="module")
def embed() -> Callable[[Any], np.ndarray]:
    from classify.encoder import Encoder

    return Encoder().encode


def test_labels_are_short_phrases_from_the_posts_never_stopword_pairs(embed: Callable[[Any], np.ndarray]) -> None:
    for group in (PDF, SYNC, LOGIN):
        centroid = np.asarray(embed(group), np.float64).mean(axis=0)
        label, keywords = label_issue(group, centroid, BACKGROUND, embed)
        words = tokens(label)
        assert 1 <= len(words) <= 6 and not is_stopword(words[0]) and not is_stopword(words[-1])
        assert not any(is_stopword(x) and is_stopword(y) for x, y in zip(words, words[1:], strict=False))
        corpus = " ".join(group).lower()
        assert all(w.lower() in corpus for w in words)  # words people used
        assert 1 <= len(keywords) <= 10 and all(not is_stopword(k) for k in keywords)
        assert (label, keywords) == label_issue(list(group), centroid, BACKGROUND, embed)  # stable
    pdf_label, pdf_keywords = label_issue(PDF, np.asarray(embed(PDF), np.float64).mean(axis=0), BACKGROUND, embed)
    assert "pdf" in pdf_label.lower() and {"pdf", "export"} & set(pdf_keywords[:2])
    sync_label, _ = label_issue(SYNC, np.asarray(embed(SYNC), np.float64).mean(axis=0), BACKGROUND, embed)
    assert "sync" in sync_label.lower()
