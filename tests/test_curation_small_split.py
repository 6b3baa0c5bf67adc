"""Curation that does not make noise: a split-off group smaller than an issue's minimum is never announced."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from alerts.issues import run_detect
from store.models import Issue, IssuePost
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from voxpop import curation

BURST_DAY = date(2026, 2, 5)


def test_a_small_split_makes_no_new_issue(store: Any, tmp_path: Path) -> None:
    insert_posts(store, "acme", stream(days=40) + burst(100000, BURST_DAY, 8))
    run_detect(store, make_config(tmp_path), "acme", as_of=datetime(2026, 2, 5))
    with store.transaction() as session:
        issue = session.scalars(select(Issue).where(Issue.state == "new")).first()
        assert issue is not None, "the burst should be a new issue"
        members = sorted(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == issue.id)))
        small = curation.split_issue(session, issue.id, post_ids=members[:1], by="ann")
        session.execute(update(Issue).where(Issue.id == issue.id).values(state="rising"))
        big = curation.split_issue(session, issue.id, post_ids=members[1:4], by="ann")
    with store.sessions() as session:
        assert session.get(Issue, small).state == "ongoing"  # one post: not news
        assert session.get(Issue, big).state == "rising"  # a group of issue size keeps the state it came from
