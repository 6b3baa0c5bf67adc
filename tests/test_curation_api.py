"""The curation actions on a real store: corrections beside the model, issue curation, the audit log."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from alerts.issues import run_detect
from store.curation import MERGED, load_curation
from store.models import Classification, Issue, IssueCuration, IssuePost, LabelCorrection, PostLabel
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from voxpop import curation
from voxpop.curation import CurationError

BURST_DAY = date(2026, 2, 5)


@pytest.fixture
def detected(store: Any, tmp_path: Path) -> tuple[Any, Any]:
    """A product with history and a burst, detected up to the burst day (real issues in the store)."""
    config = make_config(tmp_path)
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    run_detect(store, config, "acme", as_of=datetime(2026, 2, 5))
    return store, config


def _issues(store: Any) -> list[Issue]:
    with store.sessions() as session:
        return list(session.scalars(select(Issue).where(Issue.state != "candidate").order_by(Issue.size.desc())))


def _members(store: Any, issue_id: int) -> list[int]:
    with store.sessions() as session:
        return sorted(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == issue_id)))


def test_label_post_keeps_the_model_row_records_old_and_new_and_audits(detected: tuple[Any, Any]) -> None:
    store, _ = detected
    with store.transaction() as session:
        first = curation.label_post(session, 100001, sentiment="neutral", need="question", by="ann")
    assert first.post_id == 100001 and first.by == "ann"
    assert {c.field: (c.old, c.new, c.old_source) for c in first.changes} == {
        "sentiment": ("negative", "neutral", "model"), "need_type": ("problem", "question", "model")}
    with store.transaction() as session:
        second = curation.label_post(session, 100001, need="problem", jobs=["export", "sync"], by="bob")
    assert {c.field: (c.old, c.new, c.old_source) for c in second.changes} == {
        "need_type": ("question", "problem", "human"), "jobs": ([], ["export", "sync"], "model")}
    with store.sessions() as session:
        cls = session.scalars(select(Classification).where(Classification.post_id == 100001)).one()
        assert (cls.sentiment, cls.need_type) == ("negative", "problem")  # the model's reading is untouched
        label = session.get(PostLabel, 100001)
        assert label is not None
        assert (label.sentiment, label.need_type, label.unmet_need, label.jobs, label.top_job) == (
            "neutral", "problem", True, ["export", "sync"], "export")
        rows = session.scalars(select(LabelCorrection).order_by(LabelCorrection.id)).all()
        assert [(r.field, r.by) for r in rows] == [("sentiment", "ann"), ("need_type", "ann"), ("need_type", "bob"),
                                                   ("jobs", "bob")]
        entries = curation.history(session, post_id=100001)
    assert [(e.action, e.by) for e in entries] == [("label", "ann"), ("label", "bob")]
    assert entries[0].details["need_type"] == {"old": "problem", "new": "question", "old_source": "model"}
    with store.transaction() as session:
        cleared = curation.label_post(session, 100001, no_jobs=True, by="bob")
    assert cleared.changes[0].old == ["export", "sync"] and cleared.changes[0].new == []


def test_label_post_refuses_bad_input_with_one_clear_line(detected: tuple[Any, Any]) -> None:
    store, _ = detected
    cases = [
        (dict(post_id=999999999, sentiment="neutral"), "no post with id 999999999"),
        (dict(post_id=100001, sentiment="angry"), "sentiment must be one of negative, neutral, positive"),
        (dict(post_id=100001, need="bug"), "need must be one of"),
        (dict(post_id=100001), "nothing to change"),
        (dict(post_id=100001, jobs=["a"], no_jobs=True), "not both"),
        (dict(post_id=100001, jobs=["bad id!"]), "bad job id"),
    ]
    for kwargs, message in cases:
        with store.transaction() as session, pytest.raises(CurationError, match=message):
            curation.label_post(session, kwargs.pop("post_id"), by="ann", **kwargs)
    with store.transaction() as session, pytest.raises(CurationError, match="empty name"):
        curation.label_post(session, 100001, sentiment="neutral", by="  ")
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LabelCorrection)) == 0


def test_relabelling_a_member_as_praise_takes_it_out_of_its_issue(detected: tuple[Any, Any]) -> None:
    store, _ = detected
    burst_issue = next(i for i in _issues(store) if 100000 in _members(store, i.id))
    assert burst_issue.size == 8
    with store.transaction() as session:
        result = curation.label_post(session, 100000, need="praise", sentiment="positive", by="ann")
    assert result.issues_touched == (burst_issue.id,)
    assert 100000 not in _members(store, burst_issue.id)
    with store.sessions() as session:
        issue = session.get(Issue, burst_issue.id)
        assert issue is not None and issue.size == 7 and issue.daily_counts == {"2026-02-05": 7}
        assert issue.stats["negative"] == 7 and issue.representative_post_id != 100000


def test_rename_merge_split_mute_resolve_reopen_and_their_history(detected: tuple[Any, Any]) -> None:
    store, _ = detected
    issues = _issues(store)
    big, other, burst_issue = issues[0].id, issues[1].id, next(i.id for i in issues if i.size == 8)
    big_members, other_members = _members(store, big), _members(store, other)

    machine_label = next(i.label for i in issues if i.id == burst_issue)
    assert machine_label and "button" in machine_label
    with store.transaction() as session:
        renamed = curation.rename_issue(session, burst_issue, "  Checkout\x00 button   frozen ", by="ann")
    assert renamed.details == {"old": machine_label, "new": "Checkout button frozen"}

    with store.transaction() as session:
        merged = curation.merge_issue(session, other, into=big, by="ann")
    assert merged.details["posts"] == len(other_members)
    assert _members(store, big) == sorted(set(big_members) | set(other_members)) and _members(store, other) == []
    with store.sessions() as session:
        survivor, gone = session.get(Issue, big), session.get(Issue, other)
        assert survivor is not None and gone is not None
        assert survivor.size == len(set(big_members) | set(other_members)) and gone.state == MERGED
        assert sum(survivor.daily_counts.values()) == survivor.size
        state = load_curation(session, survivor.product_id)
    assert state.is_merged(other) and state.survivor(other) == big and not state.is_merged(big)
    assert state.human_label(burst_issue) == "Checkout button frozen"

    with store.transaction() as session, pytest.raises(CurationError, match=f"merged into issue {big}"):
        curation.rename_issue(session, other, "x", by="ann")
    with store.transaction() as session, pytest.raises(CurationError, match="into itself"):
        curation.merge_issue(session, big, into=big, by="ann")

    moved = _members(store, burst_issue)[:3]
    with store.transaction() as session:
        new_id = curation.split_issue(session, burst_issue, post_ids=moved, by="bob")
    assert _members(store, new_id) == moved and not set(moved) & set(_members(store, burst_issue))
    with store.sessions() as session:
        new, old = session.get(Issue, new_id), session.get(Issue, burst_issue)
        assert new is not None and old is not None
        assert (new.size, old.size, new.state) == (3, 5, old.state) and new.label
    with store.transaction() as session, pytest.raises(CurationError, match="not in issue"):
        curation.split_issue(session, burst_issue, post_ids=[moved[0]], by="bob")
    with store.transaction() as session, pytest.raises(CurationError, match="leave it empty"):
        curation.split_issue(session, new_id, post_ids=moved, by="bob")

    with store.transaction() as session:
        curation.mute_issue(session, burst_issue, until=date(2099, 3, 1), by="cy")
        curation.resolve_issue(session, big, by="cy")
    with store.transaction() as session, pytest.raises(CurationError, match="already resolved"):
        curation.resolve_issue(session, big, by="cy")
    with store.transaction() as session:
        curation.reopen_issue(session, big, by="cy")
    with store.transaction() as session, pytest.raises(CurationError, match="not resolved"):
        curation.reopen_issue(session, big, by="cy")
    with store.sessions() as session:
        row = session.get(IssueCuration, burst_issue)
        assert row is not None and row.muted and row.muted_until == date(2099, 3, 1)
        reopened = session.get(Issue, big)
        assert reopened is not None
        state = load_curation(session, reopened.product_id)
        assert reopened is not None and reopened.state == "reopened"
        assert state.silenced(burst_issue, date(2026, 2, 28)) and not state.silenced(burst_issue, date(2099, 3, 1))
        assert state.resolved_at(big) is None
        assert [e.action for e in curation.history(session, issue_id=big)] == ["merge", "resolve", "reopen"]
        assert [e.action for e in curation.history(session, issue_id=burst_issue)] == ["rename", "split", "mute"]
        assert [(e.action, e.details["from"]) for e in curation.history(session, issue_id=new_id)] == [
            ("split", burst_issue)]
        assert [e.details.get("into") for e in curation.history(session, issue_id=other)] == [big]

    with store.transaction() as session, pytest.raises(CurationError, match="no issue with id 424242"):
        curation.mute_issue(session, 424242, until=None, by="cy")
    with store.transaction() as session, pytest.raises(CurationError, match="cannot be empty"):
        curation.rename_issue(session, big, " \t", by="cy")
