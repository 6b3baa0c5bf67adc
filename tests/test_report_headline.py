"""The top of the report: headline changes and their wording, new and rising issues, where we lose and why,
the period bounds of every chart, and the same data in Markdown and JSON."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from store.db import Store
from tests import report_data as rd
from tests import report_story as st
from voxpop.report import build_report, charts, headline
from voxpop.report.render import chart_svgs, render_report


@pytest.fixture
def story(store: Store) -> dict[str, Any]:
    with store.transaction() as session:
        st.build(session)
    with store.sessions() as session:
        return build_report(session, None, st.SINCE, st.UNTIL, st.JOBS)


def _head(data: dict[str, Any], slug: str) -> dict[str, Any]:
    return next(h for h in data["headline"] if h["slug"] == slug)


def test_headline_changes_against_the_previous_period(story: dict[str, Any]) -> None:
    assert story["meta"]["previous"] == {"since": "2026-02-02T00:00:00+00:00", "until": "2026-03-02T00:00:00+00:00"}
    notely = _head(story, "notely")
    assert (notely["posts"]["before"], notely["posts"]["now"]) == (60, 80)
    assert notely["rating"]["before"] == pytest.approx(4.5) and notely["rating"]["now"] == pytest.approx(2.5)
    assert notely["rating"]["verdict"] == "real" and notely["rating"]["tone"] == "bad"
    assert notely["rating"]["text"] == "rating fell from 4.5 to 2.5, a real drop"
    assert notely["negative"]["text"] == "negative share rose from 10% to 50%, a real rise"
    assert notely["negative"]["tone"] == "bad"
    # 80 against 60 posts: a binomial test of 80 of 140 against one half does not exclude chance
    assert notely["posts"]["text"] == "posts rose from 60 to 80, within normal variation (could be chance)"
    jotter = _head(story, "jotter")
    assert jotter["posts"]["text"] == "50 posts, as many as the previous period"
    assert jotter["rating"]["text"] == "rating steady at 4.0 (n=50)" and jotter["negative"]["verdict"] == "noise"
    tiny = _head(story, "tiny")
    assert tiny["rating"]["verdict"] == "small"
    assert tiny["rating"]["text"] == ("rating rose from 4.0 to 5.0, too few to tell "
                                      "(n=5 now and 3 before, about 30 each needed)")
    assert tiny["posts"]["verdict"] == "small"


def test_change_wording_on_edge_cases() -> None:
    assert headline.posts_change(12, 0, 30)["text"] == "12 posts (none in the previous period)"
    assert headline.posts_change(0, 0, 30)["text"] == "no posts"
    big = headline.posts_change(200, 100, 30)
    assert big["verdict"] == "real" and big["text"] == "posts rose from 100 to 200, a real rise"
    drop = headline.share_change("share of voice", (30, 100), (50, 100), 30)
    assert drop["text"] == "share of voice fell from 50% to 30%, a real drop" and drop["ci"][1] < 0
    assert headline.needed_n_shares(0.5, 0.5) is None
    # z² (p1 q1 + p2 q2) / d² = 3.8415 * (0.25 + 0.21) / 0.04 = 44.2 -> 45
    assert headline.needed_n_shares(0.5, 0.3) == 45


def test_new_and_rising_issues_with_version_quote_and_competitors(story: dict[str, Any]) -> None:
    (issue,) = story["new_and_rising"]
    assert (issue["label"], issue["count"]) == ("Sharing link fails", 25)
    assert (issue["first_half"], issue["second_half"]) == (5, 20)
    assert issue["trend_text"] == "rising (5 in the first half, 20 in the second)"
    assert issue["version"] == "4.2.0" and issue["first_version"] == "4.1.0"
    assert issue["quote"] == "The sharing link fails every time I send it"
    assert issue["competitors"] == ["Jotter"] and issue["jobs"] == {"share": 25}
    assert (issue["negative"], issue["classified"]) == (25, 25)


def test_where_we_lose_joins_the_job_gap_with_our_issues(story: dict[str, Any]) -> None:
    where = story["where_we_lose"]
    (loss,) = where["lose"]
    assert (loss["against"], loss["job"], loss["ours_n"], loss["theirs_n"]) == ("jotter", "share", 40, 40)
    assert loss["ours"] == pytest.approx(0.25) and loss["theirs"] == pytest.approx(0.75) and loss["ci"][1] < 0
    (cause,) = loss["causes"]
    assert (cause["label"], cause["posts_on_job"], cause["version"]) == ("Sharing link fails", 25, "4.2.0")
    assert loss["text"] == ("Jotter is ahead on “Share notes with my team” (75% vs 25% satisfied, n=40 and 40) — "
                            "our posts on it are mostly “Sharing link fails” (25 of our 40 posts on this job, rising, "
                            "mostly on version 4.2.0).")
    assert where["win"] == []
    (small,) = where["too_small"]
    assert (small["job"], small["ours_n"], small["theirs_n"], small["needed_n"]) == ("capture", 12, 10, 30)
    assert "Too few posts to rank Notely and Jotter" in small["text"] and "about 30 posts each" in small["text"]


def test_where_we_win_when_the_gap_goes_our_way(store: Store) -> None:
    with store.transaction() as session:
        rd.build(session)
    with store.sessions() as session:
        data = build_report(session, ["ours", "rival"], rd.SINCE, rd.UNTIL, rd.JOBS, min_n=20)
    where = data["where_we_lose"]
    assert where["lose"] == []
    (win,) = where["win"]
    # sync: ours 17 of 23 positive, the rival 7 of 21 (both n >= 20)
    assert (win["job"], win["ours_n"], win["theirs_n"]) == ("sync", 23, 21) and win["ci"][0] > 0
    assert win["text"] == ("Our Notes is ahead of Rival <Notes> on “Keep my notes in sync” "
                           "(74% vs 33% satisfied, n=23 and 21).")


def test_markdown_and_json_carry_the_same_headline_and_where_we_lose(story: dict[str, Any]) -> None:
    md = render_report(story, "md")
    as_json = json.loads(render_report(story, "json"))
    assert as_json["headline"] == json.loads(json.dumps(story["headline"]))
    assert as_json["where_we_lose"]["lose"][0]["text"] == story["where_we_lose"]["lose"][0]["text"]
    assert "rating fell from 4.5 to 2.5, a real drop" in md
    assert "Jotter is ahead on “Share notes with my team”" in md and "Sharing link fails" in md
    html = render_report(story, "html")
    first = html.index("rating fell from 4.5 to 2.5, a real drop")
    assert first < html.index("Sharing link fails") < html.index("Where we lose, and why")
    assert html.index("Where we lose, and why") < html.index("Jotter is ahead")
    assert html.index("Jotter is ahead") < html.index('id="methods"')


def test_every_chart_stays_inside_the_period(store: Store) -> None:
    """A period from a Wednesday to a Saturday morning: no week label before it starts or after it ends."""
    with store.transaction() as session:
        st.build(session)
    since, until = datetime(2026, 3, 4, tzinfo=st.SINCE.tzinfo), datetime(2026, 3, 28, 6, tzinfo=st.SINCE.tzinfo)
    with store.sessions() as session:
        data = build_report(session, None, since, until, st.JOBS)
    bounds = data["meta"]["week_bounds"]
    assert bounds[0]["start"] == since.isoformat() and bounds[-1]["end"] == until.isoformat()
    assert all(datetime.fromisoformat(b["start"]) >= since and datetime.fromisoformat(b["end"]) <= until
               for b in bounds)
    assert data["meta"]["weeks"][0] == "2026-03-04"  # not the Monday before the period
    svgs = chart_svgs(data)
    shown = set()
    for name in ("volume_trend", "rating_trend", "positive_trend"):
        labels = re.findall(r'class="xlabel"[^>]*>([^<]+)<', str(svgs[name]))
        assert labels, name
        shown |= set(labels)
    days = {(since + timedelta(days=i)).strftime("%m-%d") for i in range((until - since).days + 1)}
    assert shown <= days, shown - days
    # the 6-hour sliver of the last week is left out of the trends, not drawn as a drop to zero
    assert "03-28" not in shown


def test_trend_with_two_weeks_is_drawn_as_bars(store: Store) -> None:
    with store.transaction() as session:
        st.build(session)
    with store.sessions() as session:
        data = build_report(session, None, st.SINCE, st.SINCE + timedelta(days=14), st.JOBS)
    svgs = chart_svgs(data)
    assert "<polyline" not in str(svgs["volume_trend"]) and 'class="bar"' in str(svgs["volume_trend"])
    assert charts.MIN_LINE_POINTS == 3


def test_posts_are_not_compared_with_a_partly_collected_previous_period(store: Store) -> None:
    with store.transaction() as session:
        st.build(session)
    with store.sessions() as session:
        # 2026-02-20 to 2026-03-20: its previous twin starts 2026-01-21, before the first stored post (2026-02-01).
        data = build_report(session, ["notely"], st.SINCE - timedelta(days=10), st.SINCE + timedelta(days=18),
                            st.JOBS)
    notely = data["headline"][0]
    assert notely["posts"]["verdict"] == "partial"
    assert "collection began on 2026-02-01" in notely["posts"]["text"]
    assert notely["rating"]["verdict"] == "real"  # means and shares are still compared


def _totals(n: int, rating: float, negative: int) -> dict[str, float]:
    """Totals of ``n`` posts all rated ``rating`` give or take one star (half above, half below)."""
    up, down = n // 2, n - n // 2
    ratings = [rating + 0.5] * up + [rating - 0.5] * down
    return {"posts": n, "r_n": n, "r_sum": sum(ratings), "r_sq": sum(r * r for r in ratings), "classified": n,
            "negative": negative}


def test_the_headline_names_a_last_week_the_period_hides() -> None:
    steady = {"rating": {"verdict": "noise", "diff": -0.1}, "negative": {"verdict": "noise", "diff": 0.0}}
    week = headline.recent_change(_totals(60, 2.9, 20), _totals(200, 3.6, 60), steady, 30)
    assert week is not None and week["figure"] == "rating" and week["tone"] == "bad"
    assert week["text"] == "rating 2.9 in the last 7 days against 3.6 earlier in the period, a real drop"
    said = {"rating": {"verdict": "real", "diff": -0.5}, "negative": {"verdict": "noise", "diff": 0.0}}
    assert headline.recent_change(_totals(60, 2.9, 20), _totals(200, 3.6, 60), said, 30) is None
    assert headline.recent_change(_totals(60, 3.6, 18), _totals(200, 3.6, 60), steady, 30) is None
    assert headline.recent_change(_totals(5, 2.0, 5), _totals(200, 3.6, 60), steady, 30) is None  # too few


def test_the_report_sentence_carries_the_last_week(store: Store) -> None:
    with store.transaction() as session:
        st.build(session)
    with store.sessions() as session:
        data = build_report(session, None, st.SINCE, st.UNTIL, st.JOBS)
    for h in data["headline"]:
        assert ("but rating" in h["text"] or "but negative share" in h["text"]) == (h["recent"] is not None)


def test_totals_rebuilt_from_the_figures_match_the_query(store: Store) -> None:
    from voxpop.report import queries

    with store.transaction() as session:
        st.build(session)
    with store.sessions() as session:
        data = build_report(session, None, st.SINCE, st.UNTIL, st.JOBS)
        ids = {p.slug: p.id for p in queries.load_products(session, None)}
        direct = queries.period_totals(session, list(ids.values()), st.SINCE, st.UNTIL)
    for p in data["products"]:
        rebuilt, queried = headline.totals_of(p), direct[ids[p["slug"]]]
        assert {k: round(float(v), 6) for k, v in rebuilt.items()} == {
            k: round(float(v), 6) for k, v in queried.items()}
