"""The demo's config: mails link to the dashboard it serves (``[ui] base_url``)."""

from __future__ import annotations

from pathlib import Path

from alerts.render import render_alert
from tests.alert_support import sample_payload
from voxpop.config import load_config
from voxpop.demo.runner import DASHBOARD_URL, write_config


def test_the_demo_sets_the_dashboard_address_so_mails_link_to_the_issue(tmp_path: Path) -> None:
    path = tmp_path / "voxpop.toml"
    write_config(path, "http://127.0.0.1:9", f"sqlite:///{tmp_path / 'demo.db'}", 2525, tmp_path / "outbox")
    config = load_config(path)
    assert config.ui.base_url == DASHBOARD_URL == "http://127.0.0.1:8321"
    out = render_alert("issue_new", sample_payload(), alert_id=1, base_url=config.ui.base_url)
    assert "Dashboard: http://127.0.0.1:8321/issues/1" in out.text
    assert 'href="http://127.0.0.1:8321/issues/1"' in out.html
