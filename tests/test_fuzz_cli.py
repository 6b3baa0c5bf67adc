"""Property tests (Hypothesis) over the CLI's id and date arguments, on SQLite and PostgreSQL: one error line and
a non-zero exit or a normal run, never a traceback; a refused command writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store.db import Store
from store.models import AuditLog, IssueCuration, PostLabel
from tests.web_data import seed
from voxpop.cli import main

FUZZ = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TRICKY = ["\u00b2", "\u0663", "0", "-1", "1e3", " 1", "9" * 23, str(2**31), str(2**63), str(2**31 - 1), "1,2",
          "2026-02-30", "2026-13-01", "99999-01-01", "0001-01-01", "9999-12-31", "2026-01-01T25:00", "\u00b2d",
          "99999999999d", "30d", "12w", "6m", "0d", "2026-01-31", "", "\x00", "2026-01-01T00:00+14:00"]
values = st.one_of(st.sampled_from(TRICKY), st.integers(-2**70, 2**70).map(str), st.text(max_size=20))
COMMANDS = [
    lambda a, b: ["label", "--post", a, "--sentiment", "negative"],
    lambda a, b: ["issue", "rename", a, "renamed"],
    lambda a, b: ["issue", "merge", a, "--into", b],
    lambda a, b: ["issue", "split", a, "--posts", b],
    lambda a, b: ["issue", "not-an-issue", a, "--posts", b],
    lambda a, b: ["issue", "mute", a, "--until", b],
    lambda a, b: ["issue", "resolve", a],
    lambda a, b: ["history", "--issue", a],
    lambda a, b: ["history", "--post", a, "--limit", b],
    lambda a, b: ["issues", "--product", "notely", "--n", a],
    lambda a, b: ["backtest", "--product", "notely", "--from", a, "--to", b],
    lambda a, b: ["detect", "--product", "notely", "--as-of", a],
    lambda a, b: ["report", "--products", "notely", "--since", a, "--until", b, "--format", "json", "--out", "-"],
]


@pytest.fixture
def seeded(store: Store, db_url: str, tmp_path: Path) -> tuple[Store, Path, str]:
    seed(store)
    config = tmp_path / "voxpop.toml"
    config.write_text('[[products]]\nslug = "notely"\nname = "Notely"\n', encoding="utf-8")
    return store, config, db_url


def _writes(store: Store) -> tuple[int, ...]:
    with store.sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) or 0
                     for t in (AuditLog, IssueCuration, PostLabel))


@pytest.mark.parametrize("command", range(len(COMMANDS)))
@FUZZ
@given(a=values, b=values)
def test_cli_ids_and_dates_never_end_in_a_traceback(seeded: tuple[Store, Path, str], command: int, a: str,
                                                    b: str) -> None:
    store, config, db_url = seeded
    if "\x00" in a + b:  # an OS argument vector cannot hold NUL
        a, b = a.replace("\x00", ""), b.replace("\x00", "")
    args = COMMANDS[command](a, b)
    before = _writes(store)
    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=True,
                                env={"VOXPOP_DATABASE_URL": db_url, "VOXPOP_USER": "fuzz", "HF_HUB_OFFLINE": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        assert result.exit_code in (1, 2, 3), (args, result.exit_code, result.output[-300:])
        assert _writes(store) == before, args
