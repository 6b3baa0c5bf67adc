"""Emerging issues: unmet-only seeding, release windows, FDR control, merges with stable ids, labels."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from alerts.detect import WATCH_KIND, Detector, Event, Params, PostRow, ReleaseWindow, end_of_day, replay
from alerts.labels import PARTICLES, PROBLEM_HEADS, SIGN_IN_VERBS, is_stopword, label_issue, name_words, phrases, tokens
from alerts.policy import may_seed
from alerts.render import why
from alerts.stats import benjamini_hochberg, betabinom_sf, binom_sf
from tests.detect_data import DIM, burst, noisy, stream, unit

START = date(2026, 1, 1)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# ---------------------------------------------------------------- seeding


def test_only_unmet_needs_seed_and_join_issues() -> None:
    assert may_seed("problem", "Export crashes") and may_seed("feature_request", "Please add dark mode")
    assert may_seed("problem", "")  # no text: the embedding decides
    assert not may_seed("problem", "Not good app") and not may_seed("problem", "Can't get this to work at all.")
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
    fired = [(d["day"], a) for d in days for a in d["alerts"] if a["kind"].startswith("issue_")
             and a["kind"] != WATCH_KIND]
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
        return [a for d in days for a in d["alerts"] if a["kind"].startswith("issue_") and a.get("version")
                and a["kind"] != WATCH_KIND]

    first = version_alerts(Params())[0]
    assert first["figures"]["p_value"] < Params().version_sensitivity
    stricter = version_alerts(Params(version_sensitivity=1e-12))  # needs more posts of 2.0 first
    assert stricter and stricter[0]["day"] > first["day"] and stricter[0]["figures"]["p_value"] < 1e-12
    only_release = version_alerts(Params(sensitivity=1e-12))
    assert [(a["day"], a["version"]) for a in only_release] == [(first["day"], "2.0")]


def _new_topics_with(release: str, topics_n: int, seed: int = 21) -> list[PostRow]:
    """``topics_n`` brand-new topics that arrive with ``release``, one post each a day (never a day burst)."""
    rng = np.random.default_rng(seed)
    posts = []
    for t in range(topics_n):
        topic = unit(rng.normal(size=DIM))
        for i in range(12):
            day = START + timedelta(days=50 + i)
            posts.append(PostRow(id=10**6 + 100 * t + i, created_at=_at(day, 9 + t), embedding=noisy(rng, topic),
                                 unmet=True, need_type="problem", rating=1.0, negative=True, version=release,
                                 text=f"export {TOPIC_NAMES[t]} fails since {release}"))
    return posts


TOPIC_NAMES = ["pdf", "csv", "images", "audio", "video", "calendar"]


def test_a_release_is_looked_at_once_per_doubling_of_its_posts() -> None:
    posts = _versioned_stream()
    detector = Detector(Params(), keep_texts=0)
    last: date | None = None
    looks: dict[str, list[int]] = {}
    for offset in range(70):
        day = START + timedelta(days=offset)
        todays = [p for p in posts if p.created_at.date() == day]
        _, last = detector.run(todays, end_of_day(day), last_evaluated=last)
        for version, seen in detector.product_state.get("release_looks", {}).items():
            if looks.get(version, [None])[-1] != seen:
                looks.setdefault(version, []).append(seen)
    assert "1.1" not in looks  # one earlier release only: the spread between releases is unknown
    sizes = looks["2.0"]
    assert sizes[0] >= Params().version_min_posts
    assert all(b >= 2 * a for a, b in zip(sizes, sizes[1:], strict=False))  # one look per doubling
    assert len(sizes) < 10 < 20  # 2.0 is the newest release for 20 days, looked at a handful of times


def test_small_releases_are_pooled_until_they_have_posts_enough() -> None:
    """Releases of a handful of posts each are tested together, named by the newest, each post once."""
    rng = np.random.default_rng(11)
    steady = [unit(rng.normal(size=DIM)) for _ in range(6)]
    new_topic = unit(rng.normal(size=DIM))
    plan = [("1.0", 0, 20, 200), ("1.1", 20, 20, 200), ("1.2", 40, 4, 12), ("1.3", 44, 4, 12), ("1.4", 48, 4, 12),
            ("1.5", 52, 4, 12)]
    posts, pid = [], 0
    for version, first, days, count in plan:
        for i in range(count):
            pid += 1
            fresh = version >= "1.2" and i % 3 == 0  # a third of the small releases' posts: a new complaint
            emb = noisy(rng, new_topic if fresh else steady[i % 6], 0.3)
            posts.append(PostRow(id=pid, created_at=_at(START + timedelta(days=first + i % days), 8 + i % 12),
                                 embedding=emb, unmet=True, need_type="problem", version=version,
                                 text="sync fails" if fresh else "export slow"))
    detector = Detector(Params(), keep_texts=0)
    last: date | None = None
    windows = []
    for offset in range(56):
        day = START + timedelta(days=offset)
        _, last = detector.run([p for p in posts if p.created_at.date() == day], end_of_day(day), last_evaluated=last)
        release = detector.current_release(day)
        if release is not None and (not windows or windows[-1][:2] != (release.version, release.pooled)):
            windows.append((release.version, release.pooled, release.earlier))
    assert ("1.4", ["1.2", "1.3", "1.4"], ["1.0", "1.1"]) in windows  # 12 + 12 + 12 posts >= 30
    assert all(w[1] == ["1.5"] for w in windows if w[0] == "1.5")  # 1.2-1.4 were tested: 1.5 waits alone
    pools = detector.product_state["release_pools"]
    assert pools["1.2"] == pools["1.3"] == pools["1.4"] == "1.4" and "1.5" not in pools
    days = replay(posts, Params(), START + timedelta(days=10), START + timedelta(days=55))
    pooled = [a for d in days for a in d["alerts"] if a["figures"].get("scope") == "version"]
    assert pooled and pooled[0]["version"] == "1.4" and pooled[0]["figures"]["with_versions"] == ["1.2", "1.3"]


def test_release_tests_allow_for_topic_shares_that_swing_between_releases() -> None:
    rng = np.random.default_rng(3)
    swing, steady = unit(rng.normal(size=DIM)), unit(rng.normal(size=DIM))
    noise = [unit(rng.normal(size=DIM)) for _ in range(40)]

    def releases(shares: list[float]) -> Detector:
        detector = Detector(Params(), keep_texts=0)
        pid = 0
        for r, share in enumerate(shares):
            for i in range(400):
                pid += 1
                on_topic = i < share * 400
                emb = noisy(rng, swing if on_topic else steady if i % 2 else noise[i % 40], 0.3)
                detector.add_posts([PostRow(id=pid, created_at=_at(START + timedelta(days=r * 10 + i % 10)),
                                            embedding=emb, unmet=on_topic or i % 2 == 1, need_type="problem",
                                            text="export fails", version=f"1.{r}")])
        return detector

    calm, wild = releases([0.10, 0.10, 0.10]), releases([0.02, 0.20, 0.08])
    earlier = ["1.0", "1.1", "1.2"]
    assert calm._release_rho(earlier) < 0.002 < wild._release_rho(earlier)
    # The same rise (18% of 300 posts against ~10% before) is far less surprising after swinging releases.
    assert betabinom_sf(54, 300, 0.1, wild._release_rho(earlier)) > 20 * betabinom_sf(54, 300, 0.1, 0.0)


def test_beta_binomial_tail_matches_exact_sum() -> None:
    def lbeta(a: float, b: float) -> float:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    for x, n, p, rho in [(3, 60, 0.0025, 0.01), (10, 100, 0.05, 0.02), (20, 300, 0.03, 0.005), (5, 40, 0.1, 0.1)]:
        a, b = p * (1 - rho) / rho, (1 - p) * (1 - rho) / rho
        exact = sum(math.comb(n, k) * math.exp(lbeta(k + a, n - k + b) - lbeta(a, b)) for k in range(x, n + 1))
        assert math.isclose(betabinom_sf(x, n, p, rho), exact, rel_tol=1e-7)
        assert betabinom_sf(x, n, p, rho) > binom_sf(x, n, p) or x <= n * p * 1.3  # wider than the binomial
    assert betabinom_sf(7, 50, 0.05, 0.0) == binom_sf(7, 50, 0.05)


def test_at_most_release_top_issues_emerge_per_release() -> None:
    posts = sorted(_versioned_stream() + _new_topics_with("2.0", 5), key=lambda p: (p.created_at, p.id))

    def emerged(params: Params) -> list[str]:
        days = replay(posts, params, START + timedelta(days=14), START + timedelta(days=69))
        return [a["kind"] for d in days for a in d["alerts"]
                if a["kind"].startswith("issue_") and a["figures"].get("scope") == "version"
                and a["figures"].get("version") == "2.0"]

    assert emerged(Params(release_top=10, release_watch=0)).count("issue_new") >= 4
    assert emerged(Params(release_top=2, release_watch=0)) == ["issue_new"] * 2
    kinds = emerged(Params())
    # Discoveries are capped at release_top; a watch note only fills room left at its look (here the
    # first look, before the new topics had posts enough), and never holds back a discovery.
    assert kinds.count("issue_new") == Params().release_top == 3 and kinds.count(WATCH_KIND) <= 3


def test_watch_notes_name_a_releases_strongest_rises_and_say_they_are_not_discoveries() -> None:
    posts = _versioned_stream()
    days = replay(posts, Params(), START + timedelta(days=14), START + timedelta(days=69))
    notes = [a for d in days for a in d["alerts"] if a["kind"] == WATCH_KIND]
    off = replay(posts, Params(release_watch=0), START + timedelta(days=14), START + timedelta(days=69))
    assert not [a for d in off for a in d["alerts"] if a["kind"] == WATCH_KIND]
    assert notes, "the steady stream's strongest rise in 2.0 is named as worth watching"
    for note in notes:
        f = note["figures"]
        assert f["scope"] == "version" and not f["significant"] and f["p_value"] < Params().release_watch
        assert f["share"] >= 1.5 * f["baseline_share"] and note["version"] == "2.0"
    assert "not a discovery" in " ".join(why(WATCH_KIND, notes[0]["figures"]))
    # A watch note starts no cool-down: the issue can still alert the day its rise becomes a discovery.
    detector = Detector(Params(), keep_texts=0)
    detector.add_posts(posts[:50])
    key = next(iter(detector.clusters))
    event = Event(kind=WATCH_KIND, day=START, key=key, state="ongoing", figures={}, version="1.0")
    detector.record(event, end_of_day(START))
    cluster = detector.clusters[key]
    assert cluster.last_alert_at is None and cluster.alert_counts == {"watch": 1}
    assert cluster.watched == ["1.0"] and cluster.version_alerts == []  # one note a release; a discovery may follow


def test_an_issue_noted_in_the_last_two_releases_gets_no_new_watch_note() -> None:
    """A persistent complaint that swings between releases is not news in every release."""
    rng = np.random.default_rng(21)
    topics = [unit(rng.normal(size=DIM)) for _ in range(4)]
    detector = Detector(Params(), keep_texts=0)
    pid = 0
    for r, version in enumerate(["1.0", "1.1", "1.2", "1.3", "1.4"]):
        for i in range(40):
            pid += 1
            detector.add_posts([PostRow(id=pid, created_at=_at(START + timedelta(days=r * 5 + i % 5)),
                                        embedding=noisy(rng, topics[i % 4], 0.1), unmet=True,
                                        need_type="problem", text="export fails", version=version)])
    keys = sorted(detector.clusters, key=lambda k: -detector.clusters[k].size)[:4]
    assert len(keys) == 4
    a, b, c, d = (detector.clusters[k] for k in keys)
    a.watched, b.version_alerts, c.watched = ["1.3"], ["1.2"], ["1.1"]  # d: never noted
    grew = {"significant": False, "p_value": 0.01, "count": 8, "share": 0.2, "baseline_share": 0.05}
    tests = {k: dict(grew) for k in keys}
    release = ReleaseWindow(version="1.4", pooled=["1.4"], earlier=["1.1", "1.2", "1.3"], posts=40)
    noted = {e.key for e in detector._watch_events(START + timedelta(days=24), release, tests, [], 0.2)}
    assert noted == {c.key, d.key}  # noted three releases back (c) or never (d): worth watching again
    # Pooled with untested 1.3, release 1.4 looks back from 1.3: a note in 1.1 is recent again.
    pooled = ReleaseWindow(version="1.4", pooled=["1.3", "1.4"], earlier=["1.0", "1.1", "1.2"], posts=80)
    a.watched = []
    noted = {e.key for e in detector._watch_events(START + timedelta(days=24), pooled, tests, [], 0.2)}
    assert noted == {a.key, d.key}


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
        assert 1 <= len(words) <= 6
        # A label opens with a content word or a problem word ("can't"), and ends with a content word
        # or the particle of a sign-in verb ("log in").
        assert not is_stopword(words[0]) or words[0].lower() in PROBLEM_HEADS
        assert not is_stopword(words[-1]) or (words[-1].lower() in PARTICLES and words[-2].lower() in SIGN_IN_VERBS)
        assert not any(is_stopword(x) and is_stopword(y) for x, y in zip(words, words[1:], strict=False))
        corpus = " ".join(group).lower()
        assert all(w.lower() in corpus for w in words)  # words people used
        assert 1 <= len(keywords) <= 10 and all(not is_stopword(k) for k in keywords)
        assert (label, keywords) == label_issue(list(group), centroid, BACKGROUND, embed)  # stable
    pdf_label, pdf_keywords = label_issue(PDF, np.asarray(embed(PDF), np.float64).mean(axis=0), BACKGROUND, embed)
    assert "pdf" in pdf_label.lower() and {"pdf", "export"} & set(pdf_keywords[:2])
    sync_label, _ = label_issue(SYNC, np.asarray(embed(SYNC), np.float64).mean(axis=0), BACKGROUND, embed)
    assert "sync" in sync_label.lower()


NO_AUDIO = [
    "No audio in meetings since the update.",
    "I joined the call and there was no audio at all.",
    "Still no audio on my iPad when someone shares a video.",
    "No audio during calls, I have to rejoin every time.",
    "There is no audio for anyone in my meeting today.",
]
CANT_CHAT = [
    "I can't chat with my class anymore.",
    "Since Tuesday I can't chat in any team.",
    "We can't chat during meetings now, the box is gone.",
    "Students can't chat privately with teachers.",
]


def test_labels_say_what_goes_wrong_when_the_posts_do(embed: Callable[[Any], np.ndarray]) -> None:
    """Where members say what goes wrong with a thing ("no audio", "can't chat", "log in again"), the
    label says it too rather than naming the thing alone; "no longer" is no problem phrase."""
    for group, expected in ((NO_AUDIO, "no audio"), (CANT_CHAT, "can't chat"), (LOGIN, "log in")):
        label, keywords = label_issue(group, np.asarray(embed(group), np.float64).mean(axis=0), BACKGROUND, embed)
        assert label.lower() == expected
        assert keywords and all(not is_stopword(k) for k in keywords)  # problem words stay out of keywords
    found = phrases("It no longer loads, and now I can't sign in or log out.")
    assert ("no", "longer") not in found and ("can't", "sign", "in") in found and ("log", "out") in found
    assert not any(p[-1] in {"or", "and", "now"} for p in found)


NOTELY_AUDIO = [
    "Notely is so glitchy, the audio recording cuts out after a minute.",
    "Audio recording in Notely stops by itself, super frustrating.",
    "Notely drops my audio recording halfway through a lecture.",
    "The audio recording feature of Notely keeps cutting out, honestly a nightmare.",
    "Notely audio recording stopped again today.",
]


def test_labels_never_name_the_product_alone_or_use_filler(embed: Callable[[Any], np.ndarray]) -> None:
    """The product's name (known, or ubiquitous in its posts when not) and filler words like "super" or
    "nightmare" name no issue: never the label alone, never a keyword."""
    centroid = np.asarray(embed(NOTELY_AUDIO), np.float64).mean(axis=0)
    for product_words, background in ((name_words("Notely"), BACKGROUND),
                                      ((), [f"Notely {s}" for s in BACKGROUND])):  # its name in every post
        label, keywords = label_issue(NOTELY_AUDIO, centroid, background, embed, product_words)
        assert label.lower() != "notely" and "audio" in label.lower()
        assert "notely" not in keywords and not {"super", "nightmare", "honestly", "feature"} & set(keywords)
        assert "audio" in keywords and "recording" in keywords
    # Without the name or a background that holds it, nothing says "Notely" is the product: it may stay.
    _, keywords = label_issue(NOTELY_AUDIO, centroid, BACKGROUND, embed)
    assert "notely" in keywords
    # A name of two words is no label either, nor is the name with a filler word.
    pro = [s.replace("Notely", "Notely Pro") for s in NOTELY_AUDIO]
    label, _ = label_issue(pro, np.asarray(embed(pro), np.float64).mean(axis=0), BACKGROUND, embed,
                           name_words("Notely Pro"))
    assert label.lower() != "notely pro" and "audio" in label.lower()


def test_release_looks_survive_saving_between_runs() -> None:
    """Two runs a day, the product state saved as JSON and read back between them (as ``detect`` keeps
    it in the store), alert what one replay alerts: looks, pools and their checkpoints live in that state."""
    import json

    posts = sorted(_versioned_stream() + _new_topics_with("2.0", 2), key=lambda p: (p.created_at, p.id))
    detector = Detector(Params(), keep_texts=0)
    last: date | None = None
    fired = []
    for offset in range(70):
        day = START + timedelta(days=offset)
        todays = [p for p in posts if p.created_at.date() == day]
        half = len(todays) // 2
        for chunk, hour in ((todays[:half], 11), (todays[half:], 23)):
            detector.product_state = json.loads(json.dumps(detector.product_state))
            at = datetime(day.year, day.month, day.day, hour, 59, 59, tzinfo=UTC)
            events, last = detector.run(chunk, at, last_evaluated=last)
            fired += [(e.day.isoformat(), e.kind, e.version) for e in events if e.key is not None]
    assert len(detector.product_state["release_looks"]) == 1  # 2.0 only: 1.1 has one earlier release
    assert detector.product_state["release_looks"]["2.0"] >= 4 * Params().version_min_posts
    once = replay(posts, Params(), START, START + timedelta(days=69))
    assert fired == [(d["day"], a["kind"], a["version"]) for d in once for a in d["alerts"]
                     if a["kind"].startswith("issue_")]  # release-watch entries name an issue too
    assert ("issue_new", "2.0") in {(k, v) for _, k, v in fired}
