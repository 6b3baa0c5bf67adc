"""Every check of a curation action lives in voxpop.curation: unknown jobs, past mute dates, bad merges, bulk."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.issues import run_detect
from store.models import AuditLog, Issue, LabelCorrection, PostLabel
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from voxpop import curation
from voxpop.curation import CurationError

JOBS = {"acme": frozenset({"export", "sync"})}


@pytest.fixture
def detected(store: Any, tmp_path: Path) -> Any:
    insert_posts(store, "acme", stream(days=40) + burst(100000, date(2026, 2, 5), 8))
    run_detect(store, make_config(tmp_path), "acme", as_of=datetime(2026, 2, 5))
    return store


def test_configured_jobs_skips_products_without_jobs() -> None:
    products = [SimpleNamespace(slug="acme", jobs=[SimpleNamespace(id="export")]), SimpleNamespace(slug="b", jobs=())]
    assert curation.configured_jobs(products) == {"acme": frozenset({"export"})}


def test_unknown_job_is_refused_with_the_configured_ones(detected: Any) -> None:
    with detected.transaction() as session, pytest.raises(CurationError) as refused:
        curation.label_post(session, 100001, jobs=["exprot-notes"], by="ann", job_ids=JOBS)
    assert str(refused.value) == "unknown job(s) for acme: exprot-notes (configured: export, sync)"
    with detected.transaction() as session:
        ok = curation.label_post(session, 100001, jobs=["sync"], by="ann", job_ids=JOBS)
    assert ok.changes[0].new == ["sync"]


def test_mute_dates_must_be_ahead(detected: Any) -> None:
    with detected.sessions() as session:
        issue_id = session.scalar(select(Issue.id).where(Issue.state != "candidate").limit(1))
    for day in (date(2020, 1, 1), datetime.now().date()):
        with detected.transaction() as session, pytest.raises(CurationError, match="that day has come already"):
            curation.mute_issue(session, issue_id, until=day, by="ann")
    with detected.transaction() as session:  # a replay names its own today
        curation.mute_issue(session, issue_id, until=date(2026, 2, 9), by="ann", today=date(2026, 2, 5))


def test_merge_into_itself_or_into_a_merged_issue_is_refused(detected: Any) -> None:
    with detected.sessions() as session:
        a, b, c = session.scalars(select(Issue.id).where(Issue.state != "candidate").order_by(Issue.id).limit(3))
    with detected.transaction() as session, pytest.raises(CurationError, match="into itself"):
        curation.merge_issue(session, a, into=a, by="ann")
    with detected.transaction() as session:
        curation.merge_issue(session, b, into=c, by="ann")
    with detected.transaction() as session, pytest.raises(CurationError) as refused:
        curation.merge_issue(session, a, into=b, by="ann")
    assert str(refused.value) == f"cannot merge into issue {b}: it was merged into issue {c}; merge into {c}"


def test_bulk_relabel_is_all_or_nothing_with_one_audit_entry_per_post(detected: Any) -> None:
    with detected.transaction() as session, pytest.raises(CurationError, match="no post with id 999999"):
        curation.label_posts(session, [100001, 999999], sentiment="neutral", by="ann")
    with detected.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PostLabel)) == 0
    with detected.transaction() as session:
        done = curation.label_posts(session, [100001, 100002, 100003], need="question", no_jobs=True, by="ann",
                                    job_ids=JOBS)
    assert [c.post_id for c in done] == [100001, 100002, 100003]
    with detected.sessions() as session:
        audits = session.scalars(select(AuditLog.post_id).where(AuditLog.action == "label")).all()
        assert sorted(audits) == [100001, 100002, 100003]
        assert session.scalar(select(func.count()).select_from(LabelCorrection)) == 6


def test_the_cli_shows_the_curation_refusal_as_one_line(sqlite_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from store.db import Store
    from voxpop.cli import main

    store = Store(sqlite_url)
    insert_posts(store, "acme", stream(days=40) + burst(100000, date(2026, 2, 5), 8))
    run_detect(store, make_config(tmp_path), "acme", as_of=datetime(2026, 2, 5))
    with store.sessions() as session:
        issue_id = session.scalar(select(Issue.id).where(Issue.state != "candidate").limit(1))
    store.dispose()
    env = {"VOXPOP_DATABASE_URL": sqlite_url, "VOXPOP_CONFIG": "", "VOXPOP_USER": "ann"}
    past = CliRunner().invoke(main, ["issue", "mute", str(issue_id), "--until", "2020-01-01"], env=env)
    assert past.exit_code == 1
    assert past.output.strip().splitlines() == [
        "voxpop: error: mute until 2020-01-01: that day has come already; give a later date (alerts resume on it) "
        "or none to mute until unmuted"]
    itself = CliRunner().invoke(main, ["issue", "merge", str(issue_id), "--into", str(issue_id)], env=env)
    assert itself.exit_code == 1
    assert itself.output.strip() == f"voxpop: error: cannot merge issue {issue_id} into itself"


def test_an_edit_form_records_only_what_changed(detected: Any) -> None:
    with detected.transaction() as session:
        done = curation.label_post(session, 100001, sentiment="negative", need="problem", jobs=["sync"], by="ann",
                                   only_changes=True)
    assert [(c.field, c.new) for c in done.changes] == [("jobs", ["sync"])]
    with detected.sessions() as session:
        label = session.get(PostLabel, 100001)
        assert label is not None and (label.sentiment, label.need_type, label.jobs) == (None, None, ["sync"])
    with detected.transaction() as session, pytest.raises(CurationError, match="already its labels"):
        curation.label_post(session, 100001, sentiment="negative", jobs=["sync"], by="ann", only_changes=True)
