"""Chaos: hostile CSV in and out of the CLI, files nothing can be imported from, reports to stdout and by email."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from store.db import Store
from tests import report_data as rd
from tests.conftest import PROJECT_ROOT, free_port
from voxpop.cli import main

pytestmark = pytest.mark.chaos
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
            "  =cmd|' /C calc'!A0", "\uff1d1+1"]


def _invoke(db_url: str, *args: str, config: Path | None = None) -> Any:
    env = {"VOXPOP_DATABASE_URL": db_url, "VOXPOP_CONFIG": str(config) if config else ""}
    return CliRunner().invoke(main, list(args), env=env)


def _csv_file(tmp_path: Path, rows: list[list[str]], name: str = "posts.csv") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_csv_import_keeps_segments_and_export_is_formula_safe(tmp_path: Path, db_url: str) -> None:
    rows = [["id", "text", "rating", "date", "author", "region", "plan"]]
    rows += [[f"f{i}", f"{formula} the export breaks", "2", "2026-10-01", formula, "EMEA", "pro"]
             for i, formula in enumerate(FORMULAS)]
    rows += [["ok1", "Multi-line\nreview, with \"quotes\"", "5", "", "kim", "APAC", ""],
             ["bad1", "", "3", "2026-10-01", "x", "EMEA", "pro"],
             ["bad2", "Rated too high", "9", "2026-10-01", "x", "EMEA", "pro"],
             ["bad3", "Too few cells"]]
    path = _csv_file(tmp_path, rows)
    result = _invoke(db_url, "import", "--input", str(path), "--product", "notely", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["rows"], data["stored"], data["skipped"]) == (len(FORMULAS) + 4, len(FORMULAS) + 1, 3)
    bad = [(b["line"], b["reason"]) for b in data["bad_rows"]]
    lines = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = {row.split(",")[0]: n for n, row in enumerate(lines, start=1) if row.startswith("bad")}
    assert [line for line, _ in bad] == [starts["bad1"], starts["bad2"], starts["bad3"]]  # named by the line
    assert "empty text" in bad[0][1] and "bad rating" in bad[1][1] and "expected 7 cells" in bad[2][1]

    out = tmp_path / "out.csv"
    assert _invoke(db_url, "export", "--product", "notely", "--format", "csv", "--out", str(out)).exit_code == 0
    exported = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(exported) == len(FORMULAS) + 1
    for row in exported:
        for value in row.values():
            assert value.lstrip(" ")[:1] not in ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d"), value
    by_id = {r["external_id"]: r for r in exported}
    assert by_id["f0"]["text"].startswith("'=HYPERLINK") and by_id["f1"]["author"] == "'+1+1"
    assert (by_id["f0"]["region"], by_id["f0"]["plan"], by_id["ok1"]["region"], by_id["ok1"]["plan"]) == (
        "EMEA", "pro", "APAC", "")
    assert by_id["ok1"]["text"] == 'Multi-line\nreview, with "quotes"'
    lines = _invoke(db_url, "export", "--product", "notely", "--format", "jsonl").stdout.splitlines()
    assert json.loads(lines[0])["segments"] == {"region": "EMEA", "plan": "pro"}


@pytest.mark.parametrize(("name", "content"), [
    ("empty.csv", ""),
    ("header-only.csv", "id,text\n"),
    ("all-bad.csv", "id,text,rating\n1,,3\n2,hello,99\n"),
    ("all-bad.jsonl", '{"id": 1}\nnot json\n'),
    ("empty.jsonl", "\n\n"),
])
def test_import_that_stores_nothing_exits_non_zero(tmp_path: Path, sqlite_url: str, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "voxpop.cli", "import", "--input", str(path), "--product", "p"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "VOXPOP_DATABASE_URL": sqlite_url, "VOXPOP_CONFIG": "",
                                 "HOME": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no row of" in result.stderr and "Traceback" not in result.stderr


def test_csv_without_a_text_column_is_one_clear_line(tmp_path: Path, sqlite_url: str) -> None:
    path = _csv_file(tmp_path, [["id", "body"], ["1", "hello"]])
    result = _invoke(sqlite_url, "import", "--input", str(path), "--product", "p")
    assert result.exit_code == 1
    assert "the CSV header has no 'text' column (found: id, body)" in result.output


def test_report_to_stdout_and_failed_email_exits_non_zero(tmp_path: Path, sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.transaction() as session:
        rd.build(session)
    store.dispose()
    period = ["--since", "2026-01-05", "--until", "2026-02-02"]
    result = _invoke(sqlite_url, "report", "--all", *period, "--format", "json", "--out", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["products"][0]["slug"] == "ours"
    assert not (Path.cwd() / "-").exists()

    config = tmp_path / "voxpop.toml"
    config.write_text(f'[smtp]\nport = {free_port()}\ntimeout_s = 1\n[alerts]\nrecipients = ["ops@example.com"]\n'
                      f'outbox_dir = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    out = tmp_path / "r.html"
    result = _invoke(sqlite_url, "report", "--all", *period, "--out", str(out), "--email", config=config)
    assert result.exit_code == 1, result.output
    assert out.exists() and "email delivery failed" in result.output and "queued for retry" in result.output
