"""The CLI goes through operations: leader locks, clear messages, --json summaries, import links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from store.db import Store
from store.locks import leader_lock
from tests.cli_support import invoke
from tests.scale_support import write_config

ROWS = [
    '{"id": "r1", "text": "The sync between my phone and laptop is instant.", "rating": 5, "date": "2026-10-01"}',
    '{"id": "r2", "text": "Crashes when I export to PDF", "rating": 1, "date": "2026-10-02"}',
]


def _config(tmp_path: Path, db_url: str) -> Path:
    return write_config(tmp_path / "voxpop.toml", db_url, [{"slug": "notely"}, {"slug": "jotter"}])


def _run(config: Path, *args: str) -> Any:
    return invoke(*args, config=config)


def test_alert_and_detect_take_the_leader_lock(sqlite_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, sqlite_url)
    assert _run(config, "init").exit_code == 0
    store = Store(sqlite_url)
    try:
        with leader_lock(store, "alert") as held:
            assert held
            busy = _run(config, "alert", "--json")
        assert busy.exit_code == 3 and "another process holds the alert lock" in busy.stderr
        with leader_lock(store, "detect") as held:
            busy = _run(config, "detect", "--product", "notely")
        assert busy.exit_code == 3 and "another process holds the detect lock" in busy.stderr
    finally:
        store.dispose()
    free = _run(config, "alert", "--json")
    assert free.exit_code == 0 and json.loads(free.stdout)["messages"] == 0


def test_issues_says_when_there_are_none(sqlite_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, sqlite_url)
    result = _run(config, "issues", "--product", "notely")
    assert result.exit_code == 0 and "no issues for notely yet" in result.stdout
    assert json.loads(_run(config, "issues", "--product", "notely", "--json").stdout) == []
    unknown = _run(config, "issues", "--product", "nope")
    assert unknown.exit_code == 1 and "unknown product(s): nope" in unknown.stderr


def test_import_into_a_second_product_reports_the_links(sqlite_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, sqlite_url)
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    first = json.loads(_run(config, "import", "--input", str(posts), "--product", "notely", "--json").stdout)
    assert (first["stored"], first["linked"]) == (2, 2)
    second = _run(config, "import", "--input", str(posts), "--product", "jotter")
    assert "0 new, 0 updated, 2 unchanged, 2 linked to jotter" in second.stdout
    again = json.loads(_run(config, "import", "--input", str(posts), "--product", "jotter", "--json").stdout)
    assert (again["unchanged"], again["linked"]) == (2, 0)


def test_export_json_summary(sqlite_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, sqlite_url)
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    _run(config, "import", "--input", str(posts), "--product", "notely")
    out = tmp_path / "export.csv"
    result = _run(config, "export", "--product", "notely", "--format", "csv", "--out", str(out), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"product": "notely", "format": "csv", "path": str(out), "posts": 2}
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3  # header and two posts


def test_cli_worker_roles_match_the_workers_and_lazy_commands_resolve() -> None:
    """The CLI names the worker roles and its lazily imported commands without importing them first."""
    from voxpop import cli, workers

    assert cli.WORKER_ROLES == workers.ROLES
    group = cli.main
    for name in cli.LAZY_COMMANDS:
        assert group.get_command(None, name).name == name  # type: ignore[arg-type, union-attr]


def test_report_start_imports_neither_alembic_nor_the_model(sqlite_url: str) -> None:
    """`voxpop report` starts without Alembic (an up-to-date store is checked from the scripts' revision
    lines) and without torch (the release watch loads the encoder only for a watched release)."""
    import subprocess
    import sys

    Store(sqlite_url).dispose()  # created and migrated here; the child only opens it
    code = ("import sys; from voxpop.cli import main; import voxpop.operations, voxpop.report.render; "
            "from store.db import Store; from alerts.release_store import release_watch; "
            f"Store({sqlite_url!r}).dispose(); "
            "print(sorted(m for m in ('alembic', 'torch', 'transformers') if m in sys.modules))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
