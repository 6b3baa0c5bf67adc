"""The job map on a small store with known posts (SQLite and PostgreSQL), the desired-outcome phrasing,
and the job map in every report format."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerts import stats
from store.db import Store
from tests import jobmap_data as jd
from voxpop.report import build_report, jobmap_queries
from voxpop.report.figures import opportunity
from voxpop.report.jobmap import DEFAULT_STEPS, Step, step_list
from voxpop.report.outcomes import desired_outcome
from voxpop.report.render import render_report


@pytest.fixture
def report(store: Store) -> dict[str, Any]:
    with store.transaction() as session:
        jd.build(session)
    with store.sessions() as session:
        return build_report(session, ["ours", "rival"], jd.SINCE, jd.UNTIL, jd.JOBS, min_n=20)


def test_cells_count_posts_negative_share_and_opportunity_per_step(report: dict[str, Any]) -> None:
    m = report["job_map"]
    assert [s["id"] for s in m["steps"]] == [s.id for s in DEFAULT_STEPS]
    assert m["placed"] and m["unplaced"] == {"ours": 5, "rival": 0}
    setup = m["cells"]["ours"]["set-up"]
    assert setup["n"] == 30 and (setup["negative"]["x"], setup["negative"]["n"]) == (15, 30)
    assert setup["negative"]["ci"] == pytest.approx(list(stats.wilson(15, 30)))
    # importance: 30 of ours' 85 classified posts; satisfaction: 10 positive of 30.
    assert setup["importance"]["p"] == pytest.approx(30 / 85)
    assert setup["opportunity"] == opportunity(30 / 85, 10 / 30)
    assert m["cells"]["ours"]["use"]["small"] and not m["cells"]["ours"]["leave"]["small"]
    assert m["cells"]["ours"]["choose"]["n"] == 0 and m["cells"]["ours"]["choose"]["opportunity"] is None
    assert m["opportunities"]["ours"][0] == "leave"  # 40/85 important, 20/40 satisfied


def test_verdicts_say_real_gap_chance_or_too_few(report: dict[str, Any]) -> None:
    rows = {r["step"]: r for r in report["job_map"]["comparisons"]}
    assert set(rows) == {"set-up", "use", "leave"}
    setup = rows["set-up"]
    assert setup["verdict"] == "real" and setup["direction"] == "lose"
    assert setup["ci"] == pytest.approx(list(stats.newcombe(15, 30, 3, 30)))
    assert setup["text"] == "We lose at set-up: 50% negative vs Rival 10%, n=30 and 30, a real gap."
    assert rows["leave"]["verdict"] == "noise" and rows["leave"]["text"].endswith("could be chance.")
    assert rows["use"]["verdict"] == "small" and "too few to tell (about" in rows["use"]["text"]
    assert report["job_map"]["lose"] == [setup] and report["job_map"]["win"] == []


def test_top_issue_per_step_reads_as_a_desired_outcome(report: dict[str, Any]) -> None:
    cells = report["job_map"]["cells"]["ours"]
    top = cells["set-up"]["top_issue"]
    assert top["label"] == "import fails" and top["posts_on_step"] == 10
    assert top["outcome"]["text"] == "Minimize the chance that importing fails"
    assert cells["leave"]["top_issue"] is None  # a candidate issue is not shown


def test_issue_steps_lists_the_steps_of_an_issues_posts(store: Store) -> None:
    with store.transaction() as session:
        made = jd.build(session)
        from store.models import IssuePost
        issue_id = session.query(IssuePost.issue_id).filter(
            IssuePost.post_id == made["ours:set-up"][0].id).scalar()
        assert jobmap_queries.issue_steps(session, issue_id) == {"set-up": 10}


def test_every_format_carries_the_job_map(report: dict[str, Any]) -> None:
    md = render_report(report, "md")
    assert "## Job map" in md and "We lose at set\\-up: 50% negative vs Rival 10%" in md
    assert "Minimize the chance that importing fails" in md
    html = render_report(report, "html")
    assert 'class="jobmap"' in html and "We lose at set-up: 50% negative vs Rival 10%, n=30 and 30" in html
    data = json.loads(render_report(report, "json"))
    assert data["job_map"]["cells"]["rival"]["set-up"]["negative"]["x"] == 3
    csv_text = render_report(report, "csv")
    assert "job_map,ours,negative,set-up,15,30" in csv_text


def test_configured_steps_replace_the_defaults_and_unknown_steps_are_kept() -> None:
    steps = step_list({"ours": [Step("try", "Try it"), Step("use", "Use it")]}, ["ours"], ["use", "old-step"])
    assert [(s["id"], s["configured"]) for s in steps] == [("try", True), ("use", True), ("old-step", False)]


@pytest.mark.parametrize(("label", "keywords", "need", "step", "expected"), [
    ("PDF export crashes", ["pdf", "export", "crash"], "problem", "use",
     "Minimize the chance that the app crashes while exporting to PDF"),
    ("note lost while syncing", [], "problem", "use", "Minimize the chance that a note is lost while syncing"),
    ("images load slowly", ["images", "slow"], "problem", "use", "Minimize the time it takes to load images"),
    ("dark mode", ["dark", "mode"], "feature_request", "use", "Increase the ability to use dark mode"),
    ("export to Word", [], "feature_request", "leave", "Increase the ability to export to Word"),
    ("can't sign in", [], "problem", "set-up", "Minimize the chance that signing in fails"),
    ("crash", [], "problem", "set-up", "Minimize the chance that the app crashes while trying to set the product up"),
    # A request's "missing" is a feature not there yet, not lost data; the keywords name what a bare verb loads.
    ("set reminders", ["templates", "missing", "reminders"], "feature_request", "use",
     "Increase the ability to set reminders"),
    ("load slowly on mobile", ["data", "images", "load"], "feature_request", "use",
     "Minimize the time it takes to load data on mobile"),
    ("search", ["restarted", "search"], "problem", "use", "Minimize the chance that searching fails"),
])
def test_desired_outcome_phrasing(label: str, keywords: list[str], need: str, step: str, expected: str) -> None:
    outcome = desired_outcome(label, keywords, need, step)
    assert outcome is not None and outcome.text == expected
    assert outcome.text == f"{outcome.direction} {outcome.metric} {outcome.object}"


def test_desired_outcome_of_nothing_is_none() -> None:
    assert desired_outcome("", [], "problem", "use") is None


def test_segments_in_the_report_escape_scraped_text(sqlite_store: Store) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from store.models import Product

    hostile = "On my iPad the export eats my <script>alert('x')</script> handwriting | # *"
    with sqlite_store.transaction() as session:
        jd.build(session)
        ours = session.scalar(select(Product).where(Product.slug == "ours"))
        for i in range(5):
            jd.post(session, ours, jd.SINCE + timedelta(days=4), step="leave", sentiment="negative", unmet=True,
                    need="feature_request", text=f"{hostile} {i}")
    with sqlite_store.sessions() as session:
        data = build_report(session, ["ours", "rival"], jd.SINCE, jd.UNTIL, jd.JOBS, min_n=20)
    assert [s["key"] for s in data["segments"]["export"]] == ["tablet"]
    html = render_report(data, "html")
    assert 'class="segment"' in html and "<script>alert" not in html and "&lt;script&gt;" in html
    md = render_report(data, "md")
    assert "## Segments" in md and "<script>" not in md and "\\|" in md


def test_the_report_mail_carries_the_real_step_gaps(report: dict[str, Any], tmp_path: Any) -> None:
    from voxpop.report.mail import report_mail

    path = tmp_path / "report.html"
    path.write_text(render_report(report, "html"), encoding="utf-8")
    mail = report_mail(report, [path])
    line = "We lose at set-up: 50% negative vs Rival 10%, n=30 and 30, a real gap."
    assert line in mail["text"] and line in mail["html"]
    assert "At leave" not in mail["text"]  # only real gaps go in the mail


def test_the_reports_default_steps_are_the_classifiers() -> None:
    from classify.steps import DEFAULT_STEPS as CLASSIFIER_STEPS

    assert [s.id for s in DEFAULT_STEPS] == [s.id for s in CLASSIFIER_STEPS]


def test_segment_posts_take_the_main_jobs_and_a_persons_jobs(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    from store.claims import ClassificationRow, claim_pending, save_classifications
    from store.repo import PostRecord, ensure_product, upsert_posts
    from voxpop import curation

    day = datetime(2026, 3, 2, tzinfo=UTC)
    plan = [[{"job": "export", "score": 0.8}, {"job": "sync", "score": 0.75}, {"job": "share", "score": 0.5}],
            [{"job": "sync", "score": 0.7}], [{"job": "share", "score": 0.6}], []]
    with store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id=str(i), text=f"post {i} on my ipad",
                                               created_at=day + timedelta(hours=i)) for i in range(len(plan))])
        claimed = sorted(claim_pending(session, "w", 10), key=lambda p: p.id)
        save_classifications(session, "w", [ClassificationRow(
            post_id=p.id, model_version="m", sentiment="negative", sentiment_score=0.9, need_type="problem",
            need_score=0.9, unmet_need=True, jobs=jobs, evidence=None, embedding=None)
            for p, jobs in zip(claimed, plan, strict=True)])
        ids = [p.id for p in claimed]
        curation.label_post(session, ids[1], jobs=["search", "export"], by="tester")  # a person's jobs win
        curation.label_post(session, ids[2], no_jobs=True, by="tester")  # a person says: no job
    with store.sessions() as session:
        found = {p.post_id: p.jobs for p in jobmap_queries.segment_posts(
            session, [pid], day, day + timedelta(days=1), {pid: "acme"})}
    assert found[ids[0]] == ("export", "sync")  # within the margin of the best score; share is not
    assert found[ids[1]] == ("search", "export")
    assert found[ids[2]] == ()  # kept (the model named a job) but with no job: the person's word holds
    assert ids[3] not in found  # no job at all: not a segment post


def test_segment_posts_read_again_after_a_correction_carry_the_new_labels(store: Store) -> None:
    """Rows parse once per content (a dashboard reads the newest posts for each period); a person's later
    correction is a new row and must show on the next read, never the parse of the old one."""
    from datetime import UTC, datetime, timedelta

    from store.claims import ClassificationRow, claim_pending, save_classifications
    from store.repo import PostRecord, ensure_product, upsert_posts
    from voxpop import curation

    day = datetime(2026, 3, 2, tzinfo=UTC)
    with store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id="1", text="export fails on my ipad",
                                               created_at=day + timedelta(hours=1))])
        (post,) = claim_pending(session, "w", 10)
        save_classifications(session, "w", [ClassificationRow(
            post_id=post.id, model_version="m", sentiment="negative", sentiment_score=0.9, need_type="problem",
            need_score=0.9, unmet_need=True, jobs=[{"job": "export", "score": 0.8}], evidence=None, embedding=None)])
    period = (day, day + timedelta(days=1), {pid: "acme"})
    with store.sessions() as session:
        (before,) = jobmap_queries.segment_posts(session, [pid], *period)
    with store.transaction() as session:
        curation.label_post(session, post.id, sentiment="positive", need="praise", jobs=["sync"], by="tester")
    with store.sessions() as session:
        (after,) = jobmap_queries.segment_posts(session, [pid], *period)
    assert (before.sentiment, before.unmet, before.jobs) == ("negative", True, ("export",))
    assert (after.sentiment, after.unmet, after.need_type, after.jobs) == ("positive", False, "praise", ("sync",))
