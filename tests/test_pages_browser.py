"""The report and the alert's HTML part in a real browser: screenshots at 1280 and 600 px, no horizontal
overflow at either width, images loaded (the alert chart as the mail client would show it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from alerts.render import render_alert
from store.db import Store
from tests import report_story as st
from tests.alert_support import sample_payload
from tests.browser_support import layout, require_chromium, screenshot, with_images
from voxpop.report import build_report
from voxpop.report.mail import decode_images, report_mail
from voxpop.report.render import write_report

WIDTHS = (1280, 600)
SHOTS = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture
def browser() -> Path:
    return require_chromium()


@pytest.fixture
def story_data(sqlite_store: Store) -> dict[str, Any]:
    with sqlite_store.transaction() as session:
        st.build(session)
    with sqlite_store.sessions() as session:
        return build_report(session, None, st.SINCE, st.UNTIL, st.JOBS)


def _check(page: Path, tmp_path: Path, name: str) -> None:
    for width in WIDTHS:
        probe = layout(page, width, tmp_path / "profile")
        assert probe["scroll"] <= probe["client"], (name, width, probe)  # no horizontal scroll bar
        assert probe["client"] <= width
        for natural, right in probe["images"]:  # type: ignore[attr-defined]
            assert natural > 0 and right <= width, (name, width, natural, right)  # loaded, and inside the page
        shot = tmp_path / f"{name}-{width}.png"
        assert screenshot(page, shot, width, 1000, tmp_path / "profile") == (width, 1000)
        if os.environ.get("VOXPOP_KEEP_SCREENSHOTS"):
            SHOTS.mkdir(exist_ok=True)
            (SHOTS / shot.name).write_bytes(shot.read_bytes())


def test_report_fits_1280_and_600_px(browser: Path, tmp_path: Path, story_data: dict[str, Any]) -> None:
    page = write_report(story_data, "html", tmp_path / "report.html")
    _check(page, tmp_path, "report")


def test_report_mail_fits_1280_and_600_px(browser: Path, tmp_path: Path, story_data: dict[str, Any]) -> None:
    mail = report_mail(story_data, [tmp_path / "report.html"])
    images = {cid: png for cid, png, _ in decode_images(mail)}
    page = tmp_path / "report-mail.html"
    page.write_text(with_images(mail["html"], images), encoding="utf-8")
    _check(page, tmp_path, "report-mail")


def test_alert_html_part_fits_1280_and_600_px(browser: Path, tmp_path: Path) -> None:
    payload = sample_payload(label="Export to PDF loses images " * 4, quote="x" * 400)
    out = render_alert("issue_new", payload, alert_id=7, base_url="https://voxpop.example")
    page = tmp_path / "alert.html"
    page.write_text(with_images(out.html, {i.cid: i.png for i in out.images}), encoding="utf-8")
    _check(page, tmp_path, "alert")


def test_the_probe_sees_overflow(browser: Path, tmp_path: Path) -> None:
    """The check above would catch a page wider than the window."""
    page = tmp_path / "wide.html"
    page.write_text('<html><body><table><tr><td style="white-space:nowrap">' + "wide " * 300
                    + "</td></tr></table></body></html>", encoding="utf-8")
    probe = layout(page, 600, tmp_path / "profile")
    assert probe["scroll"] > probe["client"]
