"""The comparison figures on a store with known posts, on SQLite and PostgreSQL (the ``store`` fixture).

The posts are built in tests/report_data.py; every expected number below is worked out by hand from it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerts import stats
from store.db import Store
from tests import report_data as rd
from voxpop.report import ReportError, build_report


@pytest.fixture
def report(store: Store) -> dict[str, Any]:
    with store.transaction() as session:
        rd.build(session)
    with store.sessions() as session:
        return build_report(session, ["ours", "rival", "idle"], rd.SINCE, rd.UNTIL, rd.JOBS, min_n=20)


def _by_slug(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["slug"]: p for p in data["products"]}


def _share(s: dict[str, Any], x: int, n: int) -> None:
    assert (s["x"], s["n"]) == (x, n)
    assert s["p"] == pytest.approx(x / n)
    assert s["ci"] == pytest.approx(list(stats.wilson(x, n)))


def test_volume_coverage_and_share_of_voice(report: dict[str, Any]) -> None:
    p = _by_slug(report)
    # ours: 40 app-store posts classified + 3 skipped + 2 pending + 1 reddit post; rival: 20 + 4 forum + the
    # shared reddit post (linked to both); the two posts on the period's edges are outside [since, until).
    assert p["ours"]["coverage"] == {"total": 46, "classified": 41, "skipped": 3, "unclassified": 2,
                                     "classified_share": p["ours"]["coverage"]["classified_share"]}
    assert (p["rival"]["volume"], p["rival"]["coverage"]["classified"], p["rival"]["coverage"]["unclassified"]) == \
        (25, 21, 4)
    assert p["idle"]["volume"] == 0 and p["idle"]["small"] and p["idle"]["share_of_voice"]["x"] == 0
    _share(p["ours"]["share_of_voice"], 46, 71)
    _share(p["rival"]["share_of_voice"], 25, 71)
    # Shared sources are those where two or more compared products appear: appstore and reddit, not forum.
    assert p["ours"]["share_of_voice_shared"]["sources"] == ["appstore", "reddit"]
    _share(p["ours"]["share_of_voice_shared"], 46, 67)
    _share(p["rival"]["share_of_voice_shared"], 21, 67)
    assert p["rival"]["by_source"] == {"appstore": 20, "forum": 4, "reddit": 1}


def test_ratings_and_distribution(report: dict[str, Any]) -> None:
    r = _by_slug(report)["ours"]["rating"]
    assert r["n"] == 43 and r["mean"] == pytest.approx(151 / 43)
    values = [5] * 18 + [4] * 6 + [3] * 6 + [2] * 6 + [1] * 7
    mean = sum(values) / 43
    sd = (sum((v - mean) ** 2 for v in values) / 42) ** 0.5
    assert r["sd"] == pytest.approx(sd)
    assert r["ci"] == pytest.approx([mean - stats.Z95 * sd / 43 ** 0.5, mean + stats.Z95 * sd / 43 ** 0.5])
    assert {k: v["x"] for k, v in r["distribution"].items()} == {"1": 7, "2": 6, "3": 6, "4": 6, "5": 18}
    _share(r["distribution"]["5"], 18, 43)
    rival = _by_slug(report)["rival"]["rating"]
    assert (rival["n"], rival["mean"]) == (20, pytest.approx(1.9))


def test_sentiment_needs_and_weekly_trend(report: dict[str, Any]) -> None:
    ours = _by_slug(report)["ours"]
    _share(ours["sentiment"]["positive"], 25, 41)
    _share(ours["sentiment"]["neutral"], 6, 41)
    _share(ours["sentiment"]["negative"], 10, 41)
    assert {k: v["x"] for k, v in ours["need_types"].items()} == {"praise": 25, "feature_request": 6, "other": 6,
                                                                  "bug": 4}
    _share(ours["unmet"], 10, 41)
    assert report["meta"]["weeks"] == ["2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26"]
    assert [(w["n"], w["classified"], w["positive"], w["negative"], w["neutral"]) for w in ours["weekly"]] == \
        [(10, 10, 10, 0, 0), (10, 10, 6, 4, 0), (20, 20, 8, 6, 6), (6, 1, 1, 0, 0)]
    assert [w["positive_share"] for w in ours["weekly"]] == [1.0, 0.6, 0.4, 1.0]
    assert [w["small"] for w in ours["weekly"]] == [True, True, False, True]  # min_n = 20
    rival = _by_slug(report)["rival"]
    assert [w["n"] for w in rival["weekly"]] == [0, 20, 4, 1]


def test_jobs_and_opportunity_scores(report: dict[str, Any]) -> None:
    p = _by_slug(report)
    assert [j["id"] for j in report["jobs"]] == ["sync", "export"]
    assert report["jobs"][0]["products"] == ["ours", "rival"]
    sync, export = p["ours"]["jobs"]["sync"], p["ours"]["jobs"]["export"]
    _share(sync["importance"], 23, 41)
    _share(sync["satisfaction"], 17, 23)
    assert sync["opportunity"] == pytest.approx(round(5 * 23 / 41, 4))  # satisfied: importance only
    _share(export["importance"], 12, 41)
    _share(export["satisfaction"], 8, 12)
    assert export["opportunity"] == pytest.approx(round(5 * 12 / 41, 4)) and export["small"]  # 12 < 20
    rsync = p["rival"]["jobs"]["sync"]
    _share(rsync["importance"], 21, 21)
    _share(rsync["satisfaction"], 7, 21)
    assert rsync["opportunity"] == pytest.approx(round(5 * (1 + (1 - 7 / 21)), 4))  # 8.3333
    assert not p["rival"]["jobs"]["export"]["configured"] and p["rival"]["jobs"]["export"]["n"] == 0
    assert p["rival"]["jobs"]["export"]["opportunity"] is None
    # Small samples are not ranked.
    assert p["ours"]["opportunities"] == ["sync"]
    assert p["idle"]["opportunities"] == []


def test_differences_carry_newcombe_intervals(report: dict[str, Any]) -> None:
    rows = {c["metric"]: c for c in report["comparisons"] if c["b"] == "rival"}
    pos = rows["positive share"]
    assert (pos["a_n"], pos["b_n"]) == (41, 21)
    assert pos["diff"] == pytest.approx(25 / 41 - 7 / 21)
    assert pos["ci"] == pytest.approx(list(stats.newcombe(25, 41, 7, 21)))
    assert pos["significant"] and not pos["small"]
    sat = rows["satisfaction: Keep my notes in sync"]
    assert sat["ci"] == pytest.approx(list(stats.newcombe(17, 23, 7, 21)))
    rating = rows["mean rating"]
    assert rating["diff"] == pytest.approx(151 / 43 - 1.9) and rating["significant"]
    # The idle product has no posts: nothing is compared with it, and it is named as too small.
    assert not [c for c in report["comparisons"] if c["b"] == "idle"]
    summary = report["summary"]
    assert summary["small"] == ["idle"]
    assert {w["metric"] for w in summary["wins"]} == {"mean rating", "positive share", "negative share",
                                                       "unmet-need share", "satisfaction: Keep my notes in sync"}
    assert summary["losses"] == []
    assert summary["text"] == (
        "Against Rival <Notes>, Our Notes wins on higher mean rating (3.51 vs 1.90, +1.61, 95% CI +0.84 to +2.38); "
        "higher positive share (61% vs 33%, +27.6 pts, 95% CI +1.5 to +48.6); "
        "lower negative share (24% vs 67%, -42.3 pts, 95% CI -61.6 to -16.3); "
        "lower unmet-need share (24% vs 67%, -42.3 pts, 95% CI -61.6 to -16.3); "
        "higher satisfaction: Keep my notes in sync (74% vs 33%, +40.6 pts, 95% CI +11.1 to +61.6) "
        "and no significant loss. Too few classified posts to compare (n < 20): Idle.")


def test_small_samples_are_flagged_not_significant(store: Store) -> None:
    with store.transaction() as session:
        rd.build(session)
    with store.sessions() as session:
        data = build_report(session, ["ours", "rival"], rd.SINCE, rd.UNTIL, rd.JOBS)  # default min_n = 30
    rows = [c for c in data["comparisons"] if c["b"] == "rival"]
    assert rows and all(c["small"] and not c["significant"] for c in rows)
    assert data["summary"]["wins"] == [] and data["summary"]["small"] == ["rival"]


def test_top_unmet_needs_with_trend_and_evidence(report: dict[str, Any]) -> None:
    ours = _by_slug(report)["ours"]["top_unmet_needs"]
    assert [(n["source"], n["label"], n["count"], n["first_half"], n["second_half"], n["trend"]) for n in ours] == [
        ("issue", "Dark mode missing", 6, 0, 6, 6),
        ("issue", "Crashes on export", 4, 4, 0, -4),
        ("classification", "unmet need: Keep my notes in sync", 6, 0, 6, 6),
        ("classification", "unmet need: Export my notes", 4, 4, 0, -4),
    ]
    crash = ours[1]
    assert crash["evidence"] == rd.SCRIPT and crash["url"] == "https://example.com/r/1"
    assert ours[0]["url"] is None  # a javascript: URL is never passed on
    assert ours[3]["evidence"] == "export crashes"  # the newest unmet post of the job


def test_gaps_between_our_issues_and_theirs(report: dict[str, Any]) -> None:
    gaps = report["gaps"]
    assert gaps["own"] == "ours"
    # "Export crashes (PDF)" matches our "Crashes on export" by keywords; the candidate issue is ignored.
    assert [(g["product"], g["label"], g["count"]) for g in gaps["they_have"]] == [("rival", "Login loop", 5)]
    assert [(g["product"], g["label"], g["count"]) for g in gaps["we_have"]] == [("ours", "Dark mode missing", 6)]


def test_all_products_and_errors(store: Store) -> None:
    with store.transaction() as session:
        rd.build(session)
    with store.sessions() as session:
        data = build_report(session, None, rd.SINCE, rd.UNTIL)
        assert data["meta"]["products"] == ["ours", "idle", "rival"]  # ours first, then by slug
        assert {j["id"] for j in data["jobs"]} == {"sync", "export"}  # from the data when none configured
        with pytest.raises(ReportError, match="unknown product"):
            build_report(session, ["nope"], rd.SINCE, rd.UNTIL)
        with pytest.raises(ReportError, match="empty period"):
            build_report(session, None, rd.SINCE, rd.SINCE - timedelta(days=1))


def test_sqlite_tuning_is_restored(sqlite_store: Store) -> None:
    from sqlalchemy import text

    with sqlite_store.transaction() as session:
        rd.build(session)
    with sqlite_store.sessions() as session:
        before = [session.execute(text(f"PRAGMA {name}")).scalar() for name in ("temp_store", "cache_size")]
        build_report(session, ["ours"], rd.SINCE, rd.UNTIL)
        after = [session.execute(text(f"PRAGMA {name}")).scalar() for name in ("temp_store", "cache_size")]
    assert after == before


def test_no_products_gives_an_empty_report(store: Store) -> None:
    from voxpop.report.render import FORMATS, render_report

    with store.sessions() as session:
        data = build_report(session, [], rd.SINCE, rd.UNTIL)
    assert data["products"] == [] and data["comparisons"] == [] and data["summary"]["text"] == "No products to compare."
    for fmt in FORMATS:
        assert render_report(data, fmt)


def test_parallel_queries_give_the_same_report_as_one_connection(store: Store) -> None:
    with store.transaction() as session:
        rd.build(session)
    with store.sessions() as session:
        one = build_report(session, None, rd.SINCE, rd.UNTIL, rd.JOBS, generated_at=rd.UNTIL, threads=1)
        three = build_report(session, None, rd.SINCE, rd.UNTIL, rd.JOBS, generated_at=rd.UNTIL, threads=3)
    assert one == three
    assert sum(p["volume"] for p in one["products"]) > 0
