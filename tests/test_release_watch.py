"""The release watch: a ranked per-release account of new or grown topics (no gate), in the backtest, the
store side and `voxpop releases`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from alerts.detect import Params, PostRow, replay
from alerts.issues import backtest
from alerts.release_store import release_watch
from alerts.release_watch import (
    NOT_AN_ALARM,
    RELEASE_WATCH_KIND,
    Release,
    Topic,
    WatchPost,
    WatchSpec,
    as_text,
    plan,
    rank,
    topics_of,
)
from tests.alert_support import make_config
from tests.cli_support import invoke
from tests.detect_data import burst, insert_posts, noisy, stream, topics
from tests.scale_support import write_config

BURST_DAY = date(2026, 2, 5)


def _versioned(posts: list[PostRow]) -> list[PostRow]:
    """The stream in releases: 1.0 for three weeks, 1.1 for two, 2.0 from the burst day on."""
    def version(p: PostRow) -> str:
        d = p.created_at.date()
        return "1.0" if d < date(2026, 1, 22) else "1.1" if d < BURST_DAY else "2.0"

    return [replace(p, version=version(p)) for p in posts]


def test_a_grown_topic_ranks_and_a_standing_one_does_not() -> None:
    release = Release(version="2.0", pooled=("2.0",), earlier=("1.8", "1.9"), posts=100, baseline_posts=200)
    standing = Topic(1, {"1.8": 20, "1.9": 20, "2.0": 20})  # the biggest complaint, same share as before
    grown = Topic(2, {"1.8": 2, "1.9": 2, "2.0": 12})
    new = Topic(3, {"2.0": 4})
    tiny = Topic(4, {"2.0": 1})
    ranked = rank(release, [standing, grown, new, tiny], WatchSpec())
    assert [r.topic.key for r in ranked] == [2, 3]
    assert ranked[0].score > ranked[1].score > 0 and ranked[1].new and not ranked[0].new
    figures = ranked[0].figures()
    assert (figures["count"], figures["total"], figures["baseline_count"], figures["rank"]) == (12, 100, 4, 1)
    # A standing complaint that grew does rank: growth, not size, is what counts.
    assert [r.topic.key for r in rank(release, [Topic(1, {"1.8": 10, "1.9": 10, "2.0": 30})], WatchSpec())] == [1]
    assert len(rank(release, [Topic(k, {"2.0": 5 + k}) for k in range(9)], WatchSpec(top=3))) == 3


def test_releases_without_enough_posts_are_pooled_or_not_watched() -> None:
    spec = WatchSpec(min_posts=20, typical_share=0.0)
    sizes = {"1.0": 50, "1.1": 40, "1.2": 5, "1.3": 16, "1.4": 7}
    watched = plan(["1.0", "1.1", "1.2", "1.3", "1.4"], sizes, spec)
    # 1.0 has nothing before it; 1.2 and 1.3 pool (21 posts) under 1.3; 1.4 has too few posts yet.
    assert [(r.version, r.pooled, r.earlier) for r in watched] == [
        ("1.1", ("1.1",), ("1.0",)), ("1.3", ("1.2", "1.3"), ("1.1", "1.0")[::-1])]
    assert plan(["1.0", "1.1", "1.2", "1.3", "1.4"], sizes, spec, made=["1.3"]) == []
    assert plan(["1.0"], {"1.0": 500}, spec) == []
    # After big releases a release waits for half a typical one: 1.2 + 1.3 (21) are not enough, 1.4 tips it.
    waiting = plan(["1.0", "1.1", "1.2", "1.3", "1.4"], sizes, replace(spec, typical_share=0.5))
    assert [(r.version, r.pooled) for r in waiting] == [("1.1", ("1.1",)), ("1.4", ("1.2", "1.3", "1.4"))]
    # A single post stands as a topic only in a small release.
    small = Release(version="1.4", pooled=("1.4",), earlier=("1.3",), posts=12, baseline_posts=30)
    assert [r.topic.key for r in rank(small, [Topic(1, {"1.4": 1})], spec)] == [1]
    assert rank(replace(small, posts=80), [Topic(1, {"1.4": 1})], spec) == []


def test_topics_count_the_release_and_its_baseline_the_same_way() -> None:
    rng = np.random.default_rng(3)
    a, b = topics(rng, 2)
    posts = [WatchPost(i, "1.0", noisy(rng, a)) for i in range(10)]
    posts += [WatchPost(100 + i, "2.0", noisy(rng, a)) for i in range(10)]
    posts += [WatchPost(200 + i, "2.0", noisy(rng, b)) for i in range(6)]
    release = Release(version="2.0", pooled=("2.0",), earlier=("1.0",), posts=40, baseline_posts=40)
    found = {t.key: dict(t.versions) for t in topics_of(release, posts, WatchSpec())}
    assert sorted(found.values(), key=len) == [{"2.0": 6}, {"1.0": 10, "2.0": 10}]
    ranked = rank(release, topics_of(release, posts, WatchSpec()), WatchSpec())
    assert len(ranked) == 1 and ranked[0].count == 6 and ranked[0].new


def test_replay_puts_watch_entries_beside_the_alerts_of_their_day() -> None:
    posts = _versioned(stream(days=40) + burst(100000, BURST_DAY, 8))
    days = replay(posts, Params(), date(2026, 1, 10), date(2026, 2, 9), keep_texts=50)
    kinds = {(d["day"], a["kind"]) for d in days for a in d["alerts"]}
    assert (BURST_DAY.isoformat(), "issue_new") in kinds
    watch = [dict(a, day=d["day"]) for d in days for a in d["alerts"] if a["kind"] == RELEASE_WATCH_KIND]
    by_version = {}
    for a in watch:
        by_version.setdefault(a["version"], []).append(a)
    assert set(by_version) <= {"1.1", "2.0"} and "2.0" in by_version
    top = by_version["2.0"][0]
    # 1.1 was big, so 2.0 waits for max_wait (200) posts: the day it had them is the entry's day.
    counts = np.cumsum([sum(1 for p in posts if p.version == "2.0" and p.created_at.date().isoformat() == d)
                        for d in (f"2026-02-0{k}" for k in range(5, 10))])
    assert top["day"] == f"2026-02-0{5 + int(np.argmax(counts >= 200))}" and top["day"] > BURST_DAY.isoformat()
    assert "frozen" in top["label"] or "button" in top["label"], top
    assert top["figures"]["rank"] == 1 and top["figures"]["new"] and top["note"] == NOT_AN_ALARM
    assert top["keywords"] and top["quotes"] and top["baseline_versions"] == ["1.1"]  # a big release is baseline enough
    assert all(d["day"] == top["day"] for d in by_version["2.0"])  # one watch per release
    off = replay(posts, Params(), date(2026, 1, 10), date(2026, 2, 9), keep_texts=50, watch=None)
    assert not any(a["kind"] == RELEASE_WATCH_KIND for d in off for a in d["alerts"])


def test_store_backtest_and_releases_command(store: Any, db_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    insert_posts(store, "acme", _versioned(stream(days=40) + burst(100000, BURST_DAY, 8)))
    days = backtest(store, config, "acme", date(2026, 1, 25), date(2026, 2, 9))
    kinds = {a["kind"] for d in days for a in d["alerts"]}
    assert {"issue_new", RELEASE_WATCH_KIND} <= kinds  # both kinds in the per-day lists
    today = next(d for d in days if d["day"] == BURST_DAY.isoformat())
    assert "issue_new" in {a["kind"] for a in today["alerts"]}

    watch = release_watch(store, config, "acme")
    assert [r["version"] for r in watch["releases"]] == ["2.0", "1.1"]  # newest first; 1.0 has no baseline
    newest = watch["releases"][0]
    assert newest["posts"] > 300 and newest["topics"][0]["figures"]["new"]
    assert "frozen" in newest["topics"][0]["label"] or "button" in newest["topics"][0]["label"]
    text = as_text(watch)
    assert "Since version 2.0" in text and NOT_AN_ALARM in text and "of" in text

    path = write_config(tmp_path / "cli.toml", db_url, [{"slug": "acme"}])
    found = invoke("releases", "--product", "acme", "--version", "2.0", "--json", config=path)
    assert found.exit_code == 0, found.output
    out = json.loads(found.stdout)
    assert [r["version"] for r in out["releases"]] == ["2.0"] and out["note"] == NOT_AN_ALARM
    missing = invoke("releases", "--product", "acme", "--version", "9.9", config=path)
    assert missing.exit_code != 0 and "no posts of version 9.9" in missing.output
    assert len(missing.output.strip().splitlines()) == 1



def test_dashboard_releases_page_newest_first_with_the_previous_beside(sqlite_store: Any, tmp_path: Path) -> None:
    from tests.web_support import serve
    from voxpop.web.app import create_app

    hostile = "checkout <script>x</script> button frozen after update"
    insert_posts(sqlite_store, "acme", _versioned(stream(days=40) + burst(100000, BURST_DAY, 8, text=hostile)))
    for url in serve(create_app(sqlite_store, make_config(tmp_path))):
        from urllib.request import urlopen

        html = urlopen(url + "/releases?product=acme", timeout=60).read().decode()
        assert html.index("Since version 2.0") < html.index("Since version 1.1")  # newest first
        assert "Previous: 1.1" in html and NOT_AN_ALARM in html and "of" in html
        assert "<script>x" not in html and "&lt;script&gt;" in html
        data = json.loads(urlopen(url + "/api/releases?product=acme", timeout=60).read())
        assert [r["version"] for r in data["releases"]] == ["2.0", "1.1"]
        from urllib.error import HTTPError

        try:
            urlopen(url + "/api/releases?product=nope", timeout=60)
            raise AssertionError("an unknown product must be refused")
        except HTTPError as exc:
            assert exc.code == 400


def test_daily_digest_carries_the_newest_release_watch(sqlite_store: Any, smtp_server: Any, tmp_path: Path) -> None:
    from alerts.deliver import deliver_pending
    from tests.alert_support import queue_alert

    config = make_config(tmp_path, smtp_server.port)
    insert_posts(sqlite_store, "acme", _versioned(stream(days=40) + burst(100000, BURST_DAY, 8)))
    queue_alert(sqlite_store, config, "issue:1:new:1")
    def watch(slug: str, now: Any) -> dict[str, Any]:
        return release_watch(sqlite_store, config, slug, now=now)

    assert deliver_pending(sqlite_store, config, digest=True, release_watch=watch).messages == 1
    message = smtp_server.messages[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "sync fails" in text  # the alert itself
    section = text[text.index("Since version 2.0 (Acme)"):]
    assert NOT_AN_ALARM in section and "frozen" in section and " of " in section
    assert "Since version 2.0 (Acme)" in html and "Since version 1.1" not in text  # the newest release only


def test_digest_points_a_watch_note_to_the_release_watch_that_shows_it(sqlite_store: Any, smtp_server: Any,
                                                                         tmp_path: Path) -> None:
    """A "Worth watching" note about a topic the digest's release section shows is one line pointing there."""
    from datetime import UTC, datetime

    from alerts.deliver import deliver_pending
    from alerts.issues import run_detect
    from tests.alert_support import queue_alert, sample_payload

    config = make_config(tmp_path, smtp_server.port)
    insert_posts(sqlite_store, "acme", _versioned(stream(days=40) + burst(100000, BURST_DAY, 8)))
    now = datetime(2026, 2, 9, 23, tzinfo=UTC)
    run_detect(sqlite_store, config, "acme", as_of=now)  # issues and their posts: topics link to them
    watch = release_watch(sqlite_store, config, "acme", now=now)
    shown = next(t for t in watch["releases"][0]["topics"] if t.get("issue") is not None)

    def note(issue: int, label: str) -> dict[str, Any]:
        payload = sample_payload(label=label)
        payload["issue"].update(id=issue, version="2.0", state="ongoing")
        payload["figures"].update(scope="version", version="2.0", significant=False, watch_below=0.2)
        return payload

    queue_alert(sqlite_store, config, f"issue:{shown['issue']}:watch:2.0", note(shown["issue"], "told twice"),
                kind="issue_watch")
    queue_alert(sqlite_store, config, "issue:99999:watch:2.0", note(99999, "ads everywhere"), kind="issue_watch")
    assert deliver_pending(sqlite_store, config, digest=True,
                           release_watch=lambda slug, at: release_watch(sqlite_store, config, slug, now=now)).sent
    message = smtp_server.messages[-1]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    rank, label = shown["figures"]["rank"], shown["label"]
    pointer = f'Shown in the release watch below as "{label}" (Since version 2.0, topic {rank}); not repeated here.'
    assert "Acme: Worth watching: told twice (version 2.0)\n" + pointer in text
    assert text.count("told twice") == 1  # named once, its account is the release section's
    section = text[text.index("==== Since version 2.0"):]
    assert f"{rank}. {label}: " in section and "release2." not in section  # one topic a line
    # A note the release section does not show keeps its whole account; so does every discovery.
    listed = int(text.split(" alert(s)")[0].rsplit(" ", 1)[-1])
    assert text.count("Why this fired:") == listed - 1 and "ads everywhere" in text
    assert "Shown in the release watch below" in html and html.count("Why this fired") == listed - 1


def test_release_watch_honours_curation(sqlite_store: Any, tmp_path: Path) -> None:
    """Posts taken out of issues are no topic's posts; a muted issue's topic gives its place to the next one."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from alerts.issues import run_detect
    from store.models import IssuePost
    from voxpop import curation

    config = make_config(tmp_path)
    insert_posts(sqlite_store, "acme", _versioned(stream(days=40) + burst(100000, BURST_DAY, 8)))
    for day in range(1, 10):
        run_detect(sqlite_store, config, "acme", as_of=datetime(2026, 2, day, tzinfo=UTC))
    with sqlite_store.sessions() as session:
        issue_id = int(session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == 100000)).one())
        burst_members = set(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == issue_id)))
    now = datetime(2026, 2, 9, 23, tzinfo=UTC)

    def newest() -> dict[str, Any]:
        return release_watch(sqlite_store, config, "acme", now=now)["releases"][0]

    before = newest()
    assert before["version"] == "2.0" and before["topics"][0]["issue"] == issue_id and not before["muted_topics"]
    others = [t["label"] for t in before["topics"][1:]]

    with sqlite_store.transaction() as session:
        curation.mute_issue(session, issue_id, until=None, by="ann", today=now.date())
    muted = newest()
    assert all(t.get("issue") != issue_id for t in muted["topics"])
    assert [t["label"] for t in muted["topics"]][: len(others)] == others  # the others move up
    assert [t["figures"]["rank"] for t in muted["topics"]] == list(range(1, len(muted["topics"]) + 1))
    assert [(m["issue"], m["count"]) for m in muted["muted_topics"]] == [(issue_id, before["topics"][0]["figures"]
                                                                          ["count"])]
    assert f"muted issue #{issue_id}" in as_text(release_watch(sqlite_store, config, "acme", now=now))
    # The backtest's release watch leaves the muted issue's topic out the same way.
    replayed = [a for d in backtest(sqlite_store, config, "acme", date(2026, 1, 25), date(2026, 2, 9))
                for a in d["alerts"] if a["kind"] == RELEASE_WATCH_KIND and a["version"] == "2.0"]
    assert replayed and not any("frozen" in a["label"] or "frozen" in " ".join(a["quotes"]) for a in replayed)
    assert [a["figures"]["rank"] for a in replayed] == list(range(1, len(replayed) + 1))

    with sqlite_store.transaction() as session:
        curation.unmute_issue(session, issue_id, by="ann")
        taken = sorted(p for p in burst_members if p >= 100000)[:-1]  # all but one of the burst's posts
        curation.not_an_issue(session, issue_id, post_ids=taken, by="ann")
    after = newest()
    assert after["posts"] == before["posts"]  # still posts of the release ...
    assert not after["muted_topics"] and all(  # ... but no topic's: the burst no longer ranks
        "frozen" not in t["label"] and not any("frozen" in q for q in t["quotes"]) for t in after["topics"])
