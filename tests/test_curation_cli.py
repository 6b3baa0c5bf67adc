"""`voxpop issue ...`, `voxpop issues` and `voxpop history` through the CLI on a real store."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from alerts.issues import run_detect
from store.db import Store
from store.models import Issue, IssuePost
from tests.alert_support import make_config
from tests.detect_data import burst, insert_posts, stream
from voxpop.cli import main


def _cli(url: str, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"VOXPOP_DATABASE_URL": url, "VOXPOP_CONFIG": "",
                                                     "VOXPOP_USER": "ann"}, catch_exceptions=False)


def test_issue_commands_issues_listing_and_history(sqlite_url: str, tmp_path: Path) -> None:
    store = Store(sqlite_url)
    insert_posts(store, "acme", stream(days=40) + burst(100000, date(2026, 2, 5), 8))
    run_detect(store, make_config(tmp_path), "acme", as_of=datetime(2026, 2, 5))
    with store.sessions() as session:
        burst_id = session.scalars(select(IssuePost.issue_id).where(IssuePost.post_id == 100000)).one()
        other = session.scalars(select(Issue.id).where(Issue.state == "ongoing").order_by(Issue.size.desc())).first()
    assert other is not None

    renamed = _cli(sqlite_url, "issue", "rename", str(burst_id), "Checkout <b>freezes</b>", "--json")
    assert renamed.exit_code == 0 and json.loads(renamed.stdout)["new"] == "Checkout <b>freezes</b>"
    split = _cli(sqlite_url, "issue", "split", str(burst_id), "--posts", "100000,100001,100002", "--json")
    new_id = json.loads(split.stdout)["new_issue_id"]
    assert _cli(sqlite_url, "issue", "merge", str(new_id), "--into", str(other)).exit_code == 0
    muted = _cli(sqlite_url, "issue", "mute", str(burst_id), "--until", "2099-03-01")
    assert muted.exit_code == 0 and "until=2099-03-01" in muted.output
    assert _cli(sqlite_url, "issue", "resolve", str(burst_id)).exit_code == 0
    again = _cli(sqlite_url, "issue", "resolve", str(burst_id))
    assert again.exit_code == 1 and again.output.strip() == f"voxpop: error: issue {burst_id} is already resolved"
    assert _cli(sqlite_url, "issue", "reopen", str(burst_id)).exit_code == 0
    unknown = _cli(sqlite_url, "issue", "rename", "999999", "x")
    assert unknown.exit_code == 1 and "no issue with id 999999" in unknown.output
    bad_date = _cli(sqlite_url, "issue", "mute", str(burst_id), "--until", "soon")
    assert bad_date.exit_code == 2 and "expected a date" in bad_date.output

    listed = {i["id"]: i for i in json.loads(_cli(sqlite_url, "issues", "--product", "acme", "--json").stdout)}
    assert new_id not in listed and listed[other]["merged_from"] == [new_id]
    mine = listed[burst_id]
    assert (mine["label"], mine["label_source"], mine["state"], mine["size"]) == (
        "Checkout <b>freezes</b>", "human", "reopened", 5)
    assert mine["muted"] and mine["muted_until"] == "2099-03-01"

    history = json.loads(_cli(sqlite_url, "history", "--issue", str(burst_id), "--json").stdout)
    assert [h["action"] for h in history] == ["rename", "split", "mute", "resolve", "reopen"]
    assert {h["by"] for h in history} == {"ann"}
    text = _cli(sqlite_url, "history", "--issue", str(new_id)).output
    assert "split" in text and "merge" in text and f'"into": {other}' in text
    store.dispose()
