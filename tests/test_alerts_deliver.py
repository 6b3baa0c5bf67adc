"""Delivery against a real local SMTP server and a real webhook receiver: retried, never lost, never twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alerts.deliver import CRASH_ENV, LEASE_S, deliver_pending, undelivered_summary
from alerts.issues import run_detect
from store.models import Alert, Delivery
from tests.alert_support import FlakyHandler, WebhookReceiver, make_config, queue_alert
from tests.conftest import PROJECT_ROOT, free_port
from tests.detect_data import burst, insert_posts, stream


def _deliveries(store: Any) -> list[Delivery]:
    with store.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_injected_burst_is_alerted_once_and_reruns_send_nothing(store: Any, smtp_server: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp_server.port)
    insert_posts(store, "acme", stream(days=40) + burst(100000, date(2026, 2, 5), 8))
    for day in range(1, 8):
        run_detect(store, config, "acme", as_of=datetime(2026, 2, day, tzinfo=UTC))
        deliver_pending(store, config)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert "Acme" in message["Subject"] and "New issue" in message["Subject"]
    rows = _deliveries(store)
    assert len(rows) == 1 and rows[0].status == "sent" and rows[0].message_id == message["Message-ID"]
    assert rows[0].eml_path and Path(rows[0].eml_path).exists()
    # the same runs again: nothing new is queued or sent
    for day in range(1, 8):
        report = run_detect(store, config, "acme", as_of=datetime(2026, 2, day, tzinfo=UTC))
        assert report.alerts == []
    assert deliver_pending(store, config).messages == 0
    assert len(smtp_server.messages) == 1
    with store.sessions() as session:
        assert session.query(Alert).count() == 1


def _flaky_server(script: list[str]) -> tuple[Any, FlakyHandler, int]:
    from aiosmtpd.controller import Controller

    handler = FlakyHandler(script, delay=2.5)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler, port


def test_refused_disconnected_and_timed_out_sends_are_retried_to_exactly_one(store: Any, tmp_path: Path) -> None:
    controller, handler, port = _flaky_server(["refuse", "disconnect", "timeout"])
    try:
        config = make_config(tmp_path, port, max_attempts=6, retry_base_s=10)
        queue_alert(store, config, "issue:1:new:1")
        now = datetime.now(UTC)
        errors = []
        for attempt in range(1, 5):
            report = deliver_pending(store, config, now=now)
            row = _deliveries(store)[0]
            assert row.attempts == attempt
            if attempt < 4:
                assert report.retrying == 1 and row.status == "pending" and row.last_error
                errors.append(row.last_error)
                # exponential backoff: not due again before the delay has passed
                assert row.next_attempt_at >= now + timedelta(seconds=10 * 2 ** (attempt - 1) - 1)
                assert deliver_pending(store, config, now=now).messages == 0
                now = row.next_attempt_at + timedelta(seconds=1)
            else:
                assert report.sent == 1 and row.status == "sent" and row.last_error is None
        assert "451" in errors[0]
        assert "Disconnected" in errors[1] or "closed" in errors[1].lower()
        assert "timed out" in errors[2].lower() or "timeout" in errors[2].lower()
        assert len(handler.messages) == 1
        assert deliver_pending(store, config, now=now + timedelta(days=1)).messages == 0
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_gives_up_after_max_attempts_and_stays_visible(store: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path, free_port(), max_attempts=2, retry_base_s=1)
    queue_alert(store, config, "issue:1:new:1")
    now = datetime.now(UTC)
    deliver_pending(store, config, now=now)
    report = deliver_pending(store, config, now=now + timedelta(seconds=5))
    assert report.failed == 1
    row = _deliveries(store)[0]
    assert row.status == "failed" and row.attempts == 2 and "Connection" in (row.last_error or "")
    assert deliver_pending(store, config, now=now + timedelta(days=1)).messages == 0
    with store.sessions() as session:
        summary = undelivered_summary(session)
    assert summary["failed"] == 1 and summary["failed_rows"][0]["target"] == "mailto:ops@example.com"
    assert summary["failed_rows"][0]["kind"] == "issue_new" and summary["failed_rows"][0]["error"]


CRASHING_CHILD = """
import json, sys
from voxpop.config import parse_config
from store.db import Store
from alerts.deliver import deliver_pending
cfg = parse_config(json.loads(sys.argv[2]), "child.toml", environ={})
deliver_pending(Store(sys.argv[1]), cfg)
print("not reached")
"""


def test_process_killed_between_send_and_mark_resends_once_with_same_message_id(
        sqlite_store: Any, smtp_server: Any, tmp_path: Path) -> None:
    config = make_config(tmp_path, smtp_server.port)
    queue_alert(sqlite_store, config, "issue:1:new:1")
    data = {"products": [{"slug": "acme", "name": "Acme", "own": True, "recipients": ["ops@example.com"]}],
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port, "timeout_s": 5.0},
            "alerts": {"outbox_dir": str(tmp_path / "outbox")}}
    env = {**os.environ, CRASH_ENV: "1", "PYTHONPATH": str(PROJECT_ROOT)}
    child = subprocess.run([sys.executable, "-c", CRASHING_CHILD, sqlite_store.url, json.dumps(data)],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert child.returncode == 17, child.stderr
    assert "not reached" not in child.stdout
    assert len(smtp_server.messages) == 1
    row = _deliveries(sqlite_store)[0]
    assert row.status == "sending"  # sent, but the process died before marking it
    # within the lease nobody touches it; after the lease it is sent once more, as the same message
    assert deliver_pending(sqlite_store, config).messages == 0
    later = datetime.now(UTC) + timedelta(seconds=LEASE_S + 1)
    assert deliver_pending(sqlite_store, config, now=later).sent == 1
    assert deliver_pending(sqlite_store, config, now=later + timedelta(hours=1)).messages == 0
    assert len(smtp_server.messages) == 2
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"] == row.message_id
    assert _deliveries(sqlite_store)[0].status == "sent"


@pytest.fixture
def receiver() -> Any:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def test_webhooks_slack_and_signed_json_routed_per_product(store: Any, receiver: WebhookReceiver,
                                                           tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    hooks = [{"name": "slack", "url": receiver.url("/slack"), "kind": "slack"},
             {"name": "generic", "url": receiver.url("/json"), "kind": "json", "secret_env": "HOOK_SECRET"},
             {"name": "other-team", "url": receiver.url("/other"), "kind": "json", "products": ["rival"]}]
    products = [{"slug": "acme", "name": "Acme", "own": True}, {"slug": "rival", "name": "Rival"}]
    config = make_config(tmp_path, free_port(), webhooks=hooks, products=products)
    receiver.fail_first = 1  # the first POST gets a 503 and is retried
    queue_alert(store, config, "issue:1:new:1")
    assert {r.target for r in _deliveries(store)} == {"webhook:slack", "webhook:generic"}
    now = datetime.now(UTC)
    first = deliver_pending(store, config, now=now)
    assert first.retrying == 1 and first.sent == 1
    second = deliver_pending(store, config, now=now + timedelta(hours=1))
    assert second.sent == 1
    assert deliver_pending(store, config, now=now + timedelta(days=1)).messages == 0
    by_path = {r["path"]: r for r in receiver.requests}
    assert set(by_path) == {"/slack", "/json"}
    slack = by_path["/slack"]["json"]
    assert "Acme" in slack["text"] and slack["blocks"][0]["type"] == "header"
    signed = by_path["/json"]
    expected = "sha256=" + hmac.new(b"s3cret", signed["body"], hashlib.sha256).hexdigest()
    assert signed["headers"]["X-Voxpop-Signature"] == expected
    assert signed["json"]["kind"] == "issue_new" and signed["json"]["figures"]["p_value"] == 1.6e-19


def test_digest_sends_one_message_per_recipient(store: Any, smtp_server: Any, tmp_path: Path) -> None:
    products = [{"slug": "acme", "name": "Acme", "own": True, "recipients": ["a@example.com", "b@example.com"]}]
    config = make_config(tmp_path, smtp_server.port, products=products)
    queue_alert(store, config, "issue:1:new:1")
    queue_alert(store, config, "product:1:rating_drop:2026-02-05", kind="rating_drop",
                payload={"product": {"slug": "acme", "name": "Acme"}, "figures": {"mean": 2.1, "baseline_mean": 4.2,
                         "n": 40, "baseline_n": 900, "p_value": 1e-9}, "daily": [], "day": "2026-02-05"})
    report = deliver_pending(store, config, digest=True)
    assert report.messages == 2 and report.sent == 4
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@example.com", "b@example.com"]
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "sync fails" in body and "Rating drop" in body
    assert all(m["Message-ID"].startswith("<voxpop-digest-") for m in smtp_server.messages)
    assert deliver_pending(store, config, digest=True).messages == 0
