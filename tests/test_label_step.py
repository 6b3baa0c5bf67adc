"""`voxpop label --post ID --step STEP`: a person's step wins in the job map, export and /api/posts filters,
the model's row stays, the correction is recorded; unknown steps are refused in one line (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from store.db import Store
from store.io import iter_export_rows
from store.models import Classification, LabelCorrection, PostLabel
from tests import jobmap_data as jd
from voxpop import curation
from voxpop.cli import main
from voxpop.report import build_report


def _cli(url: str, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"VOXPOP_DATABASE_URL": url, "VOXPOP_CONFIG": "",
                                                     "VOXPOP_USER": "ann"}, catch_exceptions=False)


def _cells(store: Store) -> dict[str, int]:
    with store.sessions() as session:
        report = build_report(session, ["ours", "rival"], jd.SINCE, jd.UNTIL, jd.JOBS, min_n=20)
    return {step: cell["n"] for step, cell in report["job_map"]["cells"]["ours"].items()}


def test_a_step_correction_moves_the_post_on_the_job_map(store: Store) -> None:
    with store.transaction() as session:
        made = jd.build(session)
    post_id = made["ours:use"][0].id
    before = _cells(store)
    assert (before["use"], before["leave"]) == (10, 40)

    done = _cli(str(store.engine.url.render_as_string(hide_password=False)), "label", "--post", str(post_id),
                "--step", "leave", "--json")
    assert done.exit_code == 0, done.output
    change = json.loads(done.stdout)["changes"]
    assert change == [{"field": "step", "old": "use", "new": "leave", "old_source": "model"}]

    after = _cells(store)
    assert (after["use"], after["leave"]) == (9, 41)
    with store.sessions() as session:
        assert session.scalar(select(Classification.step).where(Classification.post_id == post_id)) == "use"
        assert session.get(PostLabel, post_id).step == "leave"
        fields = session.scalars(select(LabelCorrection.field).where(LabelCorrection.post_id == post_id)).all()
        assert fields == ["step"]
        rows = {r["id"]: r for r in iter_export_rows(session, made["ours:use"][0].product_id)}
    assert (rows[post_id]["step"], rows[post_id]["label_source"]) == ("leave", "human")
    assert rows[made["ours:use"][1].id]["step"] == "use"


def test_unknown_or_malformed_steps_are_refused_in_one_line(store: Store) -> None:
    with store.transaction() as session:
        made = jd.build(session)
    url = str(store.engine.url.render_as_string(hide_password=False))
    post_id = made["ours:use"][0].id
    bad = _cli(url, "label", "--post", str(post_id), "--step", "churn")
    assert bad.exit_code == 1
    assert bad.output.strip().startswith("voxpop: error: unknown step 'churn' for ours (steps: choose, get,")
    with store.transaction() as session, pytest.raises(curation.CurationError, match="bad step id"):
        curation.label_post(session, post_id, step="Not A Slug!", by="ann")
    with store.sessions() as session:
        assert session.get(PostLabel, post_id) is None


def test_a_step_correction_moves_the_post_in_the_issue_step_breakdown(store: Store) -> None:
    """`/issues/{id}` steps and the job map's top issue per step read a person's step, not the model's."""
    from store.models import IssuePost
    from voxpop.report import jobmap_queries

    with store.transaction() as session:
        made = jd.build(session)
        post_id = made["ours:set-up"][0].id
        issue_id = session.query(IssuePost.issue_id).filter(IssuePost.post_id == post_id).scalar()
        assert jobmap_queries.issue_steps(session, issue_id) == {"set-up": 10}
        curation.label_post(session, post_id, step="get-help", by="ann")
    with store.sessions() as session:
        assert jobmap_queries.issue_steps(session, issue_id) == {"set-up": 9, "get-help": 1}
        ours = made["ours:set-up"][0].product_id
        per_step = jobmap_queries.step_issues(session, [ours], jd.SINCE, jd.UNTIL)[ours]
        assert [(i["issue_id"], i["posts_on_step"]) for i in per_step["get-help"]] == [(issue_id, 1)]
        assert [(i["issue_id"], i["posts_on_step"]) for i in per_step["set-up"]] == [(issue_id, 9)]
