"""Chaos: webhook receivers that redirect, SMTP servers that refuse for good, hostile text in every header."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.deliver import PermanentDeliveryError, deliver_pending, smtp_send
from alerts.render import build_email, render_alert, slack_message
from alerts.signing import signature, verify
from store.models import Delivery
from tests.alert_support import WebhookReceiver, make_config, queue_alert, sample_payload
from tests.conftest import free_port
from voxpop.config import SmtpSpec

pytestmark = pytest.mark.chaos
BIDI = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u200e\u200f\u061c\u200b\u200c\u200d\u2060\ufeff"


def _rows(store: Any) -> list[Delivery]:
    with store.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


class Redirector:
    """A webhook endpoint that answers every POST with a redirect to ``target``."""

    def __init__(self, status: int, target: str) -> None:
        outer = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.hits += 1
                self.send_response(status)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def catcher() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_that_redirects_has_not_accepted_the_alert(sqlite_store: Any, tmp_path: Path, status: int,
                                                            catcher: WebhookReceiver) -> None:
    redirector = Redirector(status, catcher.url("/elsewhere"))
    try:
        config = make_config(tmp_path, free_port(), webhooks=[{"name": "hook", "url": redirector.url}],
                             products=[{"slug": "acme", "name": "Acme", "own": True}])
        queue_alert(sqlite_store, config, "issue:1:new:1")
        report = deliver_pending(sqlite_store, config)
    finally:
        redirector.stop()
    assert redirector.hits == 1 and catcher.requests == []  # the redirect was not followed
    assert report.sent == 0 and report.retrying == 1
    (row,) = _rows(sqlite_store)
    assert row.status == "pending" and f"HTTP {status}" in (row.last_error or "")


def test_signed_webhook_carries_a_timestamp_and_verifies(sqlite_store: Any, tmp_path: Path, catcher: WebhookReceiver,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    config = make_config(tmp_path, free_port(), products=[{"slug": "acme", "name": "Acme", "own": True}],
                         webhooks=[{"name": "hook", "url": catcher.url("/json"), "secret_env": "HOOK_SECRET"}])
    queue_alert(sqlite_store, config, "issue:1:new:1")
    before = int(time.time())
    assert deliver_pending(sqlite_store, config).sent == 1
    (request,) = catcher.requests
    header, body = request["headers"]["X-Voxpop-Signature"], request["body"]
    stamp = int(header.split(",")[0].removeprefix("t="))
    assert before <= stamp <= int(time.time())
    assert verify(header, body, "s3cret")
    assert not verify(header, body + b" ", "s3cret")  # tampered body
    assert not verify(header, body, "other")  # wrong key
    assert not verify(header, body, "s3cret", now=stamp + 301)  # replayed after the 5-minute window
    assert verify(header, body, "s3cret", now=stamp + 299)
    replayed_with_new_time = header.replace(f"t={stamp}", f"t={int(time.time())}")
    assert replayed_with_new_time == header or not verify(replayed_with_new_time, body, "s3cret")
    assert verify(signature(body, "k", 1_000), body, "k", now=1_100) and not verify("v1=abc", body, "k")


def test_permanent_smtp_refusal_is_not_retried(sqlite_store: Any, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    class Refusing:
        transactions = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            Refusing.transactions += 1
            return "554 5.7.1 Message rejected as spam"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = make_config(tmp_path, port)
        queue_alert(sqlite_store, config, "issue:1:new:1")
        now = datetime.now(UTC)
        first = deliver_pending(sqlite_store, config, now=now)
        later = deliver_pending(sqlite_store, config, now=now + timedelta(days=2))
    finally:
        controller.stop()
    assert first.failed == 1 and first.retrying == 0 and later.messages == 0
    assert Refusing.transactions == 1
    (row,) = _rows(sqlite_store)
    assert row.status == "failed" and row.attempts == 1 and "554" in (row.last_error or "")


def test_password_never_sent_without_tls(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,  # noqa: N802
                              responses: list[str]) -> list[str]:
            seen.append(hostname)
            return responses

    seen: list[str] = []
    port = free_port()
    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        spec = SmtpSpec(host="127.0.0.1", port=port, security="none", username="bot", timeout_s=2.0)
        message = build_email(render_alert("issue_new", sample_payload()), sender="a@example.com",
                              to=["b@example.com"], message_id="<x@voxpop>")
        with pytest.raises(PermanentDeliveryError, match="without TLS"):
            smtp_send(spec, message, ["b@example.com"])
    finally:
        controller.stop()
    assert seen == []  # refused before connecting


def test_bidi_and_zero_width_controls_never_reach_a_header_or_body() -> None:
    payload = sample_payload(label=f"sync{BIDI}fails", quote=f"crash {BIDI}gnp.exe", product=f"Ac{BIDI}me")
    rendered = render_alert("issue_new", payload)
    message = build_email(rendered, sender="voxpop@example.com", to=["ops@example.com"], message_id="<a@b>",
                          headers={"X-Label": f"x{BIDI}y"})
    raw = bytes(message).decode("utf-8", "replace")
    for text in (rendered.subject, rendered.text, rendered.html, str(message["Subject"]), message["X-Label"]):
        assert not set(text) & set(BIDI), repr(text)
    assert "Acme" in rendered.subject and "syncfails" in rendered.subject
    assert not set(raw) & set(BIDI)
    slack = json.dumps(slack_message("issue_new", payload), ensure_ascii=False)
    assert not set(slack) & set(BIDI)


@pytest.mark.parametrize("url", ["https://x.example/a|Click here to reset", "https://x.example/a?b=1&c=<!channel>|x"])
def test_slack_link_label_cannot_be_set_by_the_url(url: str) -> None:
    body = slack_message("issue_new", sample_payload(url=url))
    texts = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    (quote_block,) = [t for t in texts if t.startswith(">")]
    links = [part for part in quote_block.split("<")[1:]]
    for link in links:
        target, _, label = link.partition(">")[0].partition("|")
        assert label in ("", "link") and "|" not in target and " " not in target
    assert "Click here" not in quote_block.replace("%20", " ").split("|")[-1]
