"""Chaos: a job that falls due while the scheduler waits on SIGTERM is never lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

import scheduler
from store.db import Store
from store.models import JobRun
from voxpop.config import load_config

pytestmark = pytest.mark.chaos
STARTED = threading.Event()


def slow_job(seconds: float) -> dict[str, Any]:
    """A job that keeps the scheduler's shutdown waiting."""
    STARTED.set()
    time.sleep(seconds)
    return {"slept": seconds}


def _runs(store: Store, job_id: str) -> list[JobRun]:
    with store.sessions() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.id)))


def _next_run(store: Store, job_id: str) -> float | None:
    with store.sessions() as session:
        return session.execute(text("SELECT next_run_time FROM apscheduler_jobs WHERE id = :id"),
                               {"id": job_id}).scalar()


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_job_due_during_shutdown_runs_after_restart(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "voxpop.toml"
    path.write_text(f'database_url = "{db_url}"\n[schedule]\ndeliver_every_minutes = 5\n', encoding="utf-8")
    config = load_config(path)
    store = Store(db_url)
    STARTED.clear()
    sched = scheduler.build_scheduler(config, store)
    now = datetime.now(UTC)
    sched.add_job("tests.chaos.test_scheduler_shutdown:slow_job", "interval", minutes=60, args=[3.0], id="slow",
                  next_run_time=now)
    due = now + timedelta(seconds=1.0)
    for job in sched.get_jobs():
        if job.id not in ("slow", "deliver"):
            sched.modify_job(job.id, next_run_time=now + timedelta(hours=1))  # only "deliver" falls due
    sched.modify_job("deliver", next_run_time=due)
    sched.resume()
    assert STARTED.wait(30)
    time.sleep(0.3)  # the scheduler thread now sleeps until "deliver" is due, as in a running `voxpop run`
    scheduler.stop_gracefully(sched)  # SIGTERM: waits for "slow"; "deliver" falls due meanwhile

    assert _runs(store, "deliver") == []  # not run during the shutdown ...
    kept = _next_run(store, "deliver")
    assert kept is not None and abs(kept - due.timestamp()) < 1.0  # ... and not pushed an interval on

    restarted = scheduler.build_scheduler(config, store)  # within its grace time: simply runs
    try:
        restarted.resume()
        _wait_for(lambda: [r.status for r in _runs(store, "deliver")] == ["ok"])
    finally:
        scheduler.stop_gracefully(restarted)
    store.dispose()


def test_job_missed_while_down_is_recorded_and_run_at_start(tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "voxpop.toml"
    path.write_text(f'database_url = "{db_url}"\n[[reports]]\nname = "weekly"\ncron = "mon 07:00"\n',
                    encoding="utf-8")
    config = load_config(path)
    store = Store(db_url)
    first = scheduler.build_scheduler(config, store)
    last_week = datetime.now(UTC) - timedelta(days=3)
    first.modify_job("deliver", next_run_time=last_week)  # fell due three days ago, while nothing ran
    first.shutdown(wait=False)

    again = scheduler.build_scheduler(config, store)
    try:
        assert again.voxpop_changes["overdue"] == ["deliver"]
        again.resume()
        _wait_for(lambda: [r.status for r in _runs(store, "deliver")] == ["missed", "ok"])
    finally:
        scheduler.stop_gracefully(again)
    missed = _runs(store, "deliver")[0]
    assert "no scheduler was running" in (missed.error or "") and "run at start" in (missed.error or "")
    store.dispose()
