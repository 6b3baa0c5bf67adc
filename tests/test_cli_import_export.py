"""`voxpop import` keeps every good row and names the bad ones; `voxpop export` gives them back."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.cli_support import invoke

ROWS = [
    '{"id": "a1", "text": "The sync between my phone and laptop is instant.", "rating": 5, "date": "2026-10-01"}',
    '{"id": "a2", "text": "Crashes when I export to PDF", "rating": 1, "date": "2026-10-02T09:30:00Z",'
    ' "title": "Export crash", "author": "kim", "url": "https://example.com/r/a2", "version": "4.2"}',
    '{"id": "a3", "text": "broken json here",',
    '{"id": "a4", "text": "   ", "rating": 3}',
    '{"id": "a5", "text": "Please add dark mode", "date": "the day before yesterday"}',
    '{"id": "a6", "text": "Is there a web version?", "date": "2026-10-03T12:00:00+02:00"}',
]


def _write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _invoke(db_url: str, *args: str) -> Any:
    return invoke(*args, db_url=db_url)


def test_import_keeps_good_rows_and_names_bad_lines(tmp_path: Path, db_url: str) -> None:
    path = _write(tmp_path, ROWS)
    result = _invoke(db_url, "import", "--input", str(path), "--product", "notely", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["rows"], data["stored"], data["skipped"]) == (6, 3, 3)
    bad = {b["line"]: b["reason"] for b in data["bad_rows"]}
    assert set(bad) == {3, 4, 5}
    assert "broken JSON" in bad[3] and "empty text" in bad[4] and "bad date" in bad[5]

    again = _invoke(db_url, "import", "--input", str(path), "--product", "notely", "--json")
    data = json.loads(again.stdout)
    assert (data["stored"], data["unchanged"]) == (0, 3)


def test_import_human_output_lists_line_numbers(tmp_path: Path, sqlite_url: str) -> None:
    result = _invoke(sqlite_url, "import", "--input", str(_write(tmp_path, ROWS)), "--product", "notely")
    assert "3 skipped" in result.output
    assert "line 3: broken JSON" in result.output and "line 5: bad date" in result.output


def test_export_jsonl_and_csv_round_trip(tmp_path: Path, db_url: str) -> None:
    _invoke(db_url, "import", "--input", str(_write(tmp_path, ROWS)), "--product", "notely")
    out = tmp_path / "out.jsonl"
    result = _invoke(db_url, "export", "--product", "notely", "--format", "jsonl", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["external_id"] for r in rows] == ["a1", "a2", "a6"]
    a2 = rows[1]
    assert a2["created_at"] == "2026-10-02T09:30:00Z"
    assert (a2["title"], a2["author"], a2["rating"], a2["version"]) == ("Export crash", "kim", 1.0, "4.2")
    assert rows[2]["created_at"] == "2026-10-03T10:00:00Z"  # converted to UTC
    assert rows[0]["issue_ids"] == []

    out_csv = tmp_path / "out.csv"
    _invoke(db_url, "export", "--product", "notely", "--format", "csv", "--out", str(out_csv))
    with out_csv.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["external_id"] for r in table] == ["a1", "a2", "a6"]
    assert {"source", "external_id", "url", "author", "title", "text", "rating", "created_at", "step"} <= set(table[0])


def test_unknown_product_is_one_clear_line(sqlite_url: str) -> None:
    result = invoke("export", "--product", "ghost", db_url=sqlite_url)
    assert result.exit_code == 1
    assert "voxpop: error: unknown product(s): ghost" in result.stderr
