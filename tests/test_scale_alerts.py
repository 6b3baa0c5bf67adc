"""Two senders at once (threads, then two real `voxpop run` schedulers on PostgreSQL) send each alert once."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import Alert, Delivery
from store.repo import ensure_product
from tests.scale_support import LogReader, voxpop, write_config
from voxpop import operations
from voxpop.config import Config, load_config

N_ALERTS = 12
RECIPIENTS = ["pm@example.com", "cx@example.com"]


def _config(tmp_path: Path, db_url: str, smtp_port: int, name: str = "voxpop.toml") -> Path:
    extra = (f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n\n'
             f'[alerts]\nrecipients = {RECIPIENTS!r}\noutbox_dir = "{tmp_path / "outbox"}"\n'.replace("'", '"')
             + "\n[schedule]\ndeliver_every_minutes = 1\n")
    return write_config(tmp_path / name, db_url, [{"slug": "notely"}], extra=extra)


def _queue_alerts(store: Store, config: Config) -> int:
    from alerts.deliver import queue_deliveries

    with store.transaction() as session:
        product = ensure_product(session, "notely", "Notely", True)
        for i in range(N_ALERTS):
            alert = Alert(dedupe_key=f"issue:{i}:new", kind="issue_new", product_id=product.id,
                          payload={"product": {"slug": "notely", "name": "Notely"},
                                   "issue": {"id": i, "label": f"sync fails {i}", "state": "new"},
                                   "figures": {"count": 5 + i}}, created_at=datetime.now(UTC))
            session.add(alert)
            session.flush()
            queue_deliveries(session, config, alert, "notely")
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(Delivery)) or 0


def _sent(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent")) or 0


def test_concurrent_deliverers_send_each_alert_once(tmp_path: Path, db_url: str, smtp_server) -> None:  # type: ignore[no-untyped-def]
    config = load_config(_config(tmp_path, db_url, smtp_server.port))
    store = operations.open_store(config)
    total = _queue_alerts(store, config)
    assert total == N_ALERTS * len(RECIPIENTS)
    results: list[dict] = []
    start = threading.Barrier(3)

    def sender() -> None:
        own = Store(db_url)  # each "process" has its own engine and connections
        start.wait()
        for _ in range(5):
            results.append(operations.deliver_alerts(own, config))
        own.dispose()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert len(ids) == total and max(ids.values()) == 1
    assert _sent(store) == total
    assert sum(r["delivered"]["sent"] for r in results if "delivered" in r) == total
    store.dispose()


@pytest.mark.services
@pytest.mark.slow
def test_two_schedulers_send_each_alert_once(tmp_path: Path, postgres_url: str, smtp_server) -> None:  # type: ignore[no-untyped-def]
    path = _config(tmp_path, postgres_url, smtp_server.port)
    config = load_config(path)
    store = operations.open_store(config)
    total = _queue_alerts(store, config)
    procs = [voxpop(path, "run") for _ in range(2)]
    readers = [LogReader(proc) for proc in procs]  # drained all along: a full pipe would stall a scheduler
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _sent(store) < total:
            assert all(p.poll() is None for p in procs), readers[0].drain()[-3000:] + readers[1].drain()[-3000:]
            time.sleep(0.5)
        time.sleep(2)  # a late duplicate would show up here
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=120) for proc in procs]
        logs = [reader.drain() for reader in readers]
        assert codes == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    ids = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert _sent(store) == total
    assert len(ids) == total and max(ids.values()) == 1, [k for k, v in ids.items() if v > 1]
    # Both were up and scheduling; they share one job store, so either may have run a given delivery.
    assert all("running; press Ctrl-C" in log for log in logs)
    assert any("job deliver ok" in log for log in logs)
    store.dispose()
