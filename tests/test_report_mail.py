"""`voxpop report --email`: the body carries the headline, the top issues with quotes and where we lose, with
PNG charts inline (cid:) and the full HTML attached; a refused send exits non-zero naming the server."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from store.db import Store
from tests import report_story as st
from tests.conftest import free_port
from tests.mail_support import assert_cid_images, inline_images
from voxpop.cli import main


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "voxpop.toml"
    jobs = "".join(f'\n  [[products.jobs]]\n  id = "{j.id}"\n  statement = "{j.statement}"\n'
                   for j in st.JOBS["notely"])
    path.write_text(f"""
[[products]]
slug = "notely"
name = "Notely"
own = true
{jobs}
[[products]]
slug = "jotter"
name = "Jotter"
{jobs}
[smtp]
host = "127.0.0.1"
port = {port}
timeout_s = 2.0
sender = "voxpop@example.com"

[alerts]
outbox_dir = "{tmp_path / 'outbox'}"

[[reports]]
name = "weekly"
products = []
recipients = ["lead@example.com"]
""", encoding="utf-8")
    return path


def _report(tmp_path: Path, port: int, db_url: str) -> Any:
    store = Store(db_url)
    with store.transaction() as session:
        st.build(session)
    store.dispose()
    return CliRunner().invoke(main, ["--config", str(_config(tmp_path, port)), "report", "--products", "notely,jotter",
                                     "--since", "2026-03-02", "--until", "2026-03-30", "--email",
                                     "--out", str(tmp_path / "out" / "report.html")],
                              env={"VOXPOP_DATABASE_URL": db_url}, catch_exceptions=False)


def test_report_mail_body_inline_charts_and_attachment(tmp_path: Path, sqlite_url: str, smtp_server: Any) -> None:
    result = _report(tmp_path, smtp_server.port, sqlite_url)
    assert result.exit_code == 0, result.output
    (message,) = smtp_server.messages
    assert "Notely rating fell from 4.5 to 2.5, a real drop" in message["Subject"]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    for body in (html, text):
        assert "rating fell from 4.5 to 2.5, a real drop" in body
        assert "Sharing link fails" in body and "The sharing link fails every time I send it" in body
        assert "Jotter is ahead on “Share notes with my team” (75% vs 25% satisfied, n=40 and 40)" in body
        assert "report.html" in body  # names the attachment
    assert html.index("a real drop") < html.index("Sharing link fails") < html.index("Jotter is ahead")
    assert "<svg" not in html
    assert sorted(assert_cid_images(message)) == ["report-rating", "report-voice", "report-volume"]
    (attachment,) = [p for p in message.iter_attachments() if p.get_filename() == "report.html"]
    full = attachment.get_payload(decode=True).decode("utf-8")
    assert full == (tmp_path / "out" / "report.html").read_text(encoding="utf-8") and "<svg" in full
    # the .eml kept in the outbox is the same message, charts included
    (eml,) = (tmp_path / "outbox").glob("report-*.eml")
    kept = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert inline_images(kept) == inline_images(message)  # type: ignore[arg-type]


def test_report_mail_refused_exits_non_zero_naming_the_server(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()  # nothing listens there
    result = _report(tmp_path, port, sqlite_url)
    assert result.exit_code == 1
    assert f"SMTP server 127.0.0.1:{port} did not take the report mail" in result.output
    assert "report written to" in result.output and (tmp_path / "out" / "report.html").exists()
