"""`voxpop report` writes the comparison in each format from the same figures."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from store.db import Store
from tests import report_data as rd
from voxpop.cli import main


def _invoke(db_url: str, *args: str) -> object:
    return CliRunner().invoke(main, list(args), env={"VOXPOP_DATABASE_URL": db_url, "VOXPOP_CONFIG": ""},
                              catch_exceptions=False)


def test_report_command_writes_json_and_html(tmp_path: Path, db_url: str) -> None:
    store = Store(db_url)
    with store.transaction() as session:
        rd.build(session)
    store.dispose()
    out = tmp_path / "r.json"
    result = _invoke(db_url, "report", "--products", "ours,rival", "--since", "2026-01-05", "--until", "2026-02-02",
                     "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    ours = data["products"][0]
    assert (ours["slug"], ours["volume"], ours["sentiment"]["positive"]["x"]) == ("ours", 46, 25)
    assert data["meta"]["weeks"][0] == "2026-01-05"
    html = tmp_path / "r.html"
    result = _invoke(db_url, "report", "--all", "--since", "2026-01-05", "--until", "2026-02-02", "--format", "html",
                     "--out", str(html))
    assert result.exit_code == 0, result.output
    assert html.read_text(encoding="utf-8").count("<svg") == 8
