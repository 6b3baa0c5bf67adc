"""Chaos: the database goes away during a crawl started by a long-lived process (the scheduler's job function,
run in this test process as ``voxpop run`` runs it). Its run must not stay ``running`` until it is old: the
process that owns it closes it as failed, with the reason, as soon as the database is back."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from spiders import runner
from store import owed
from tests.chaos.test_db_faults import _config, _runs, _site, _voxpop, proxied_postgres  # noqa: F401 - fixture

pytestmark = pytest.mark.chaos


def test_a_run_lost_with_the_database_is_closed_by_its_own_process_once_back(
        tmp_path: Path, site_server: Any, proxied_postgres: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import scheduler

    proxy, url, direct = proxied_postgres
    monkeypatch.delenv("VOXPOP_DATABASE_URL", raising=False)
    monkeypatch.setattr(runner, "CLOSE_ATTEMPTS", 2)
    monkeypatch.setattr(owed, "RETRY_FIRST_S", 0.5)
    site = _site(tmp_path, site_server, delay_s=0.5)
    config = _config(tmp_path, url, site.base_url)
    errors: list[BaseException] = []

    def job() -> None:
        try:
            scheduler.job_crawl(str(config), "p", "shop")
        except BaseException as exc:  # noqa: BLE001 - the scheduler's listener would record it
            errors.append(exc)

    worker = threading.Thread(target=job, daemon=True)
    worker.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(r.status == "running" and r.source_id for r in _runs(direct)):
        time.sleep(0.1)
    proxy.cut()
    worker.join(240)
    assert not worker.is_alive() and errors, "the crawl job should fail while the database is gone"
    assert "database" in str(errors[0]).lower()
    (run,) = _runs(direct)
    assert run.status == "running"  # nobody could record its end yet; the owner still lives, so no one else may
    assert owed.owed(url) == [f"crawl run {run.id}"]

    proxy.restore()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _runs(direct)[0].status == "running":
        time.sleep(0.2)
    (run,) = _runs(direct)
    assert run.status == "failed" and "storage lost" in (run.reason or ""), run.reason
    assert owed.owed(url) == []

    status = _voxpop(config, "status", "--json", VOXPOP_DATABASE_URL=direct)
    assert status.returncode == 0, status.stderr
    (shown,) = json.loads(status.stdout)["crawls"].values()
    assert shown["status"] == "failed" and "closed by its runner" in shown["reason"]
    scheduler._STORES.pop(url).dispose()


def test_a_job_run_row_the_scheduler_could_not_write_is_written_once_the_database_is_back(
        proxied_postgres: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from datetime import UTC, datetime

    from sqlalchemy import select

    from store.db import Store
    from store.models import JobRun
    from voxpop.runtime import JobRecorder

    proxy, url, direct = proxied_postgres
    monkeypatch.setattr(owed, "RETRY_FIRST_S", 0.5)
    store = Store(url)
    try:
        proxy.cut()
        now = datetime.now(UTC)
        JobRecorder(store).record("crawl:p:shop", now, now, "error", None, "StoreError: database unavailable")
        assert owed.owed(url) == [f"job run crawl:p:shop of {now.isoformat()}"]  # kept, not lost, no raise
        proxy.restore()
        deadline = time.monotonic() + 60
        rows: list[Any] = []
        while time.monotonic() < deadline and not rows:
            time.sleep(0.2)
            direct_store = Store(direct)
            with direct_store.sessions() as session:
                rows = list(session.scalars(select(JobRun)))
            direct_store.dispose()
        assert [(r.job_id, r.status) for r in rows] == [("crawl:p:shop", "error")]
    finally:
        store.dispose()
