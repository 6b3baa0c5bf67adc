"""`voxpop run` as a real process: a clear log, job runs recorded, graceful SIGTERM, restart keeps the schedule."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import POST_CLASSIFYING, Classification, JobRun, Post
from tests.scale_support import LogReader, insert_posts, voxpop, write_config

pytestmark = pytest.mark.slow


def _wait_until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_run_logs_records_and_stops_on_sigterm(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'voxpop.db'}"
    config = write_config(tmp_path / "voxpop.toml", db_url, [{"slug": "notely"}],
                          extra='[schedule]\ndetect_every_minutes = 30\n')
    proc = voxpop(config, "run")
    log = LogReader(proc)
    try:
        head = log.wait_for("voxpop scheduler on", 60)
        assert "3 jobs (3 new, 0 kept, 0 removed)" in head
        log.wait_for("classify", 10)
        log.wait_for("running; press Ctrl-C", 10)
        log.wait_for("job classify ", 180)  # ran (ok, or an error the listener recorded)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.drain()
    assert "SIGTERM: the scheduler stops after the running jobs finish" in text
    assert "scheduler stopped" in text
    store = Store(db_url)
    with store.sessions() as session:
        runs = list(session.scalars(select(JobRun).where(JobRun.job_id == "classify")))
    assert runs and runs[0].finished_at is not None

    # A second start finds the same jobs in the database and keeps their next run times.
    proc = voxpop(config, "run")
    log = LogReader(proc)
    try:
        head = log.wait_for("voxpop scheduler on", 60)
        assert "(0 new, 3 kept, 0 removed)" in head
        log.wait_for("running; press Ctrl-C", 30)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    store.dispose()


def test_sigterm_mid_classify_finishes_the_batch(tmp_path: Path) -> None:
    pytest.importorskip("classify", reason="classifier not installed")
    db_url = f"sqlite:///{tmp_path / 'voxpop.db'}"
    config = write_config(tmp_path / "voxpop.toml", db_url, [{"slug": "notely"}])
    store = Store(db_url)
    insert_posts(store, "notely", 3000)

    def classified() -> int:
        with store.sessions() as session:
            return session.scalar(select(func.count()).select_from(Classification)) or 0

    proc = voxpop(config, "run")
    log = LogReader(proc)
    try:
        _wait_until(lambda: classified() > 0, 240)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0, log.drain()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.drain()
    done = classified()
    with store.sessions() as session:
        in_flight = session.scalar(select(func.count()).select_from(Post).where(Post.status == POST_CLASSIFYING))
        run = session.scalars(select(JobRun).where(JobRun.job_id == "classify")).first()
    assert in_flight == 0, "a stopped scheduler left a claimed batch behind"
    assert 0 < done < 3000, "the run should stop between batches, well before the backlog is done"
    assert run is not None and run.status == "ok" and (run.result or {}).get("classified") == done, text[-2000:]
    store.dispose()
