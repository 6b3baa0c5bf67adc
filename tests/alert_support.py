"""Helpers shared by the alert tests: configs, queued alerts, a scripted SMTP server, a webhook receiver."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from store.db import Store
from store.models import Alert, Product
from voxpop.config import Config, parse_config


def make_config(tmp_path: Any, smtp_port: int = 25, *, webhooks: list[dict[str, Any]] | None = None,
                products: list[dict[str, Any]] | None = None, **alerts: Any) -> Config:
    data = {
        "products": products or [{"slug": "acme", "name": "Acme", "own": True, "recipients": ["ops@example.com"]}],
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "timeout_s": 1.0, "sender": "voxpop@example.com"},
        "alerts": {"outbox_dir": str(tmp_path / "outbox"), "retry_base_s": 60, "max_attempts": 5, **alerts},
        "webhooks": webhooks or [],
    }
    return parse_config(data, "test.toml", environ={})


def sample_payload(label: str = "sync fails", quote: str = "sync fails every night", url: str = "https://x.example/1",
                   product: str = "Acme") -> dict[str, Any]:
    return {
        "product": {"slug": "acme", "name": product, "own": True},
        "issue": {"id": 1, "label": label, "keywords": [label, "night"], "state": "new", "size": 9,
                  "first_seen": "2026-02-05T09:00:00+00:00", "need_type": "problem", "negative_share": 0.8},
        "figures": {"count": 8, "total": 78, "baseline_count": 0, "baseline_total": 2199, "baseline_share": 0.000227,
                    "share": 0.1026, "expected": 0.018, "p_value": 1.6e-19, "significant": True, "window_days": 1,
                    "baseline_days": 28},
        "daily": [{"day": f"2026-02-{d:02d}", "count": 8 if d == 5 else 0} for d in range(1, 6)],
        "quotes": [{"post_id": 7, "text": quote, "url": url, "date": "2026-02-05", "rating": 1.0}],
        "versions": [{"version": "2.0", "count": 8}], "competitors": [], "other_products": 1,
        "as_of": "2026-02-05T23:59:59+00:00", "day": "2026-02-05",
    }


def queue_alert(store: Store, config: Config, key: str, payload: dict[str, Any] | None = None,
                kind: str = "issue_new") -> int:
    from alerts.deliver import queue_deliveries

    with store.transaction() as session:
        product = session.query(Product).filter_by(slug="acme").one_or_none()
        if product is None:
            product = Product(slug="acme", name="Acme", own=True, created_at=datetime.now(UTC))
            session.add(product)
            session.flush()
        alert = Alert(dedupe_key=key, kind=kind, product_id=product.id, payload=payload or sample_payload(),
                      created_at=datetime.now(UTC))
        session.add(alert)
        session.flush()
        queue_deliveries(session, config, alert, "acme")
        return alert.id


class FlakyHandler:
    """aiosmtpd handler that misbehaves per transaction as scripted: refuse, disconnect, timeout, then ok."""

    def __init__(self, script: list[str], delay: float = 3.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.transactions = 0
        self.messages: list[EmailMessage] = []

    def _mode(self) -> str:
        i = self.transactions - 1
        return self.script[i] if i < len(self.script) else "ok"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        self.transactions += 1
        if self._mode() == "timeout":
            await asyncio.sleep(self.delay)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        mode = self._mode()
        if mode == "refuse":
            return "451 4.3.0 Temporarily unable to accept the message"
        if mode == "disconnect":
            server.transport.close()
            return "421 closing"
        if mode == "timeout":
            return "451 too late"
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content,
                                                policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class WebhookReceiver:
    """A real HTTP server in a thread that keeps every POST (headers and body)."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"
