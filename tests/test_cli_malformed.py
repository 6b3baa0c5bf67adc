"""Malformed ids on the command line: one usage line and a non-zero exit, never a traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import AuditLog
from tests.cli_support import invoke

HUGE = "99999999999999999999999"


@pytest.mark.parametrize("args", [
    ("label", "--post", HUGE, "--sentiment", "negative"),
    ("label", "--post", str(2**31), "--sentiment", "negative"),
    ("label", "--post", "\u00b2", "--sentiment", "negative"),
    ("issue", "rename", HUGE, "x"),
    ("issue", "merge", "1", "--into", HUGE),
    ("issue", "split", "1", "--posts", f"1,{HUGE}"),
    ("issue", "resolve", "0"),
    ("history", "--issue", HUGE),
    ("history", "--post", str(2**40)),
    ("issue", "mute", "1", "--until", "0001-01-01"),
])
def test_an_id_no_row_can_have_is_one_line_not_a_traceback(store: Store, db_url: str, args: tuple[str, ...]) -> None:
    result = invoke(*args, db_url=db_url, env={"VOXPOP_USER": "ann"})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Invalid value" in result.output and any(w in result.output for w in ("whole number", "ids", "date"))
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


@pytest.mark.parametrize("args", [
    ("backtest", "--product", "acme", "--from", "0001-01-01", "--to", "0001-01-02"),
    ("report", "--products", "acme", "--since", "0001-01-01", "--out", "-"),
    ("report", "--products", "acme", "--since", "\u00b2d", "--out", "-"),
    ("report", "--products", "acme", "--since", "99999999999d", "--out", "-"),
    ("detect", "--product", "acme", "--as-of", "9999-12-31"),
])
def test_a_date_outside_the_calendar_we_can_compute_is_one_line(sqlite_url: str, tmp_path: Path,
                                                                 args: tuple[str, ...]) -> None:
    config = tmp_path / "voxpop.toml"
    config.write_text('[[products]]\nslug = "acme"\n', encoding="utf-8")
    result = invoke(*args, db_url=sqlite_url, config=config)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and "Traceback" not in result.output
