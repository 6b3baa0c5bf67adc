"""Rendering the comparison report: same figures in every format, escaped scraped text, real browser check."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from store.db import Store
from tests import report_data as rd
from voxpop.report import build_report
from voxpop.report.render import FORMATS, md_escape, render_report, write_report

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def data(sqlite_store: Store) -> dict[str, Any]:
    with sqlite_store.transaction() as session:
        rd.build(session)
    with sqlite_store.sessions() as session:
        return build_report(session, ["ours", "rival", "idle"], rd.SINCE, rd.UNTIL, rd.JOBS, min_n=20)


def test_every_format_carries_the_same_figures(data: dict[str, Any]) -> None:
    html, md = render_report(data, "html"), render_report(data, "md")
    # positive sentiment of ours: 25/41 = 61%, Wilson 46%-74%
    assert "61% (25/41; 46%–74%)" in html and "61% (25/41; 46%–74%)" in md
    # opportunity of the rival's sync job: 5 * (1 + (1 - 7/21)) = 8.3
    assert "<strong>8.3</strong>" in html and "**8.3**" in md
    rows = list(csv.DictReader(io.StringIO(render_report(data, "csv"))))
    positive = next(r for r in rows if (r["section"], r["product"], r["key"]) == ("sentiment", "ours", "positive"))
    assert (positive["x"], positive["n"]) == ("25", "41")
    assert float(positive["ci_low"]) == pytest.approx(data["products"][0]["sentiment"]["positive"]["ci"][0])
    opp = next(r for r in rows if (r["section"], r["product"], r["metric"], r["key"]) ==
               ("jobs", "rival", "opportunity", "sync"))
    assert float(opp["value"]) == pytest.approx(8.3333)
    diff = next(r for r in rows if r["section"] == "difference" and r["metric"] == "positive share")
    assert diff["flag"] == "better"
    assert json.loads(render_report(data, "json")) == json.loads(json.dumps(data, default=str))
    summary = data["summary"]["text"]
    assert summary.replace("<", "&lt;").replace(">", "&gt;") in html
    assert rows[-1]["text"] == summary


def test_scraped_text_is_escaped_everywhere(data: dict[str, Any]) -> None:
    html = render_report(data, "html")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; crashes when exporting &amp; loses data" in html
    assert "javascript:" not in html
    assert 'href="https://example.com/r/1"' in html
    assert "Rival &lt;Notes&gt;" in html and "Rival <Notes>" not in html  # product names in tables and SVG text
    md = render_report(data, "md")
    assert "<script" not in md and "&lt;script&gt;" in md and "javascript:" not in md
    assert md_escape("a|b\n*c*") == r"a\|b \*c\*"


def test_html_is_standalone(data: dict[str, Any]) -> None:
    html = render_report(data, "html")
    assert "<link" not in html and "<style" not in html and "@import" not in html
    assert not re.search(r'\bsrc\s*=', html)
    # share of voice, volume, rating, rating trend, sentiment, positive trend, needs, jobs
    assert html.count("<svg") == 8
    assert 'class="cell"' in html and 'class="line"' in html and 'class="bar"' in html


def test_csv_cells_cannot_be_formulas(data: dict[str, Any]) -> None:
    data["products"][0]["top_unmet_needs"][0]["label"] = "=HYPERLINK(\"http://evil\")"
    rows = list(csv.reader(io.StringIO(render_report(data, "csv"))))
    cells = [c for row in rows for c in row]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert any(c.startswith("'=HYPERLINK") for c in cells)


def test_write_report_writes_each_format(tmp_path: Path, data: dict[str, Any]) -> None:
    for fmt in FORMATS:
        path = write_report(data, fmt, tmp_path / "out" / f"report.{fmt}")
        assert path.read_text(encoding="utf-8") == render_report(data, fmt)
        assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.csv", "report.html", "report.json",
                                                                      "report.md"]
    with pytest.raises(ValueError, match="unknown report format"):
        render_report(data, "pdf")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists() or not shutil.which(str(CHROMIUM)):
        if os.environ.get("VOXPOP_REQUIRE_SERVICES") == "1":
            pytest.fail("/usr/bin/chromium is required when VOXPOP_REQUIRE_SERVICES=1 (apt-get install chromium)")
        pytest.skip("headless browser check skipped: /usr/bin/chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def test_html_report_renders_in_a_real_browser(chromium: Path, tmp_path: Path, data: dict[str, Any]) -> None:
    page = write_report(data, "html", tmp_path / "report.html")
    done = _chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert dom.count("<svg") == 8 and dom.count('class="cell"') == 6  # 2 jobs x 3 products in the heat map
    assert "<script" not in dom.lower()  # the scraped <script> stayed text
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom
    assert 'id="summary"' in dom and "Our Notes wins on higher mean rating" in dom


def test_browser_check_sees_console_errors(chromium: Path, tmp_path: Path) -> None:
    """The check above would catch a broken page: a script error shows up as a console line."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>notDefined()</script></body></html>", encoding="utf-8")
    done = _chromium(["--dump-dom", bad.as_uri()], tmp_path / "profile")
    assert any(":CONSOLE" in line and "notDefined" in line for line in done.stderr.splitlines())
