"""This process's run state, shared by the scheduler (``voxpop run``) and the workers (``voxpop worker``).

The stop flag and signal handling, the running scheduler (to wake a job early), logging set-up and
the recorder that writes each job run into ``job_runs``. Neither ``scheduler.py`` nor
``voxpop/workers.py`` reaches into the other's globals: both use these.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from store.db import Store
from store.repo import utcnow
from voxpop.operations import plain

log = logging.getLogger("voxpop.scheduler")

STOP = threading.Event()
ACTIVE: dict[str, Any] = {}  # "scheduler": the scheduler running in this process (detect-after-classify)


def request_stop() -> None:
    """Ask running jobs and workers in this process to finish their current batch and stop."""
    STOP.set()


def stop_requested() -> bool:
    """Whether a stop was requested (SIGTERM/SIGINT or :func:`request_stop`)."""
    return STOP.is_set()


@contextmanager
def active_scheduler(sched: Any) -> Iterator[Any]:
    """Make ``sched`` this process's running scheduler (the one :func:`wake` pokes) while inside."""
    ACTIVE["scheduler"] = sched
    try:
        yield sched
    finally:
        ACTIVE.pop("scheduler", None)


def wake(job_id: str) -> None:
    """Run a job of this process's scheduler now (detect after classify, deliver after detect)."""
    sched = ACTIVE.get("scheduler")
    if sched is None or STOP.is_set() or not sched.running:
        return

    def run_now() -> None:
        try:
            if sched.running and sched.get_job(job_id) is not None:
                sched.modify_job(job_id, next_run_time=datetime.now(sched.timezone))
        except Exception:  # noqa: BLE001 - waking early is an optimisation; the clock still runs it
            log.debug("could not wake job %s", job_id, exc_info=True)

    # Not from this job's thread: a shutdown holds the job-store lock while it waits for this job.
    threading.Thread(target=run_now, name=f"wake-{job_id}", daemon=True).start()


class JobRecorder:
    """Scheduler listener: writes every run, error and missed run into ``job_runs`` and logs it.

    It never raises, so a broken job or a failed write cannot stop the scheduler.
    """

    def __init__(self, store: Store, prefix: str = "") -> None:
        self.store = store
        self.prefix = prefix
        self.started: dict[str, datetime] = {}
        self.counts = {"ok": 0, "error": 0, "missed": 0, "skipped": 0}

    def __call__(self, event: Any) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED

        try:
            if event.code == EVENT_JOB_SUBMITTED:
                self.started[event.job_id] = utcnow()
                log.info("job %s started", event.job_id)
                return
            now = utcnow()
            started = self.started.pop(event.job_id, None) or event.scheduled_run_time or now
            result: Any = None
            error = None
            if event.code == EVENT_JOB_MISSED:
                status_ = "missed"
                error = (f"missed its run at {event.scheduled_run_time:%Y-%m-%d %H:%M:%S %Z} "
                         "(the scheduler was down or busy)")
                log.warning("job %s %s", event.job_id, error)
            elif event.code == EVENT_JOB_ERROR:
                status_ = "error"
                error = f"{event.exception.__class__.__name__}: {event.exception}"
                log.error("job %s failed after %.1fs: %s\n%s", event.job_id, (now - started).total_seconds(),
                          error, event.traceback or "")
            else:
                result = plain(event.retval) if event.retval is not None else None
                status_ = "skipped" if isinstance(result, dict) and "skipped" in result else "ok"
                log.info("job %s %s in %.1fs: %s", event.job_id, status_, (now - started).total_seconds(),
                         json.dumps(result, default=str)[:300])
            self.counts[status_] += 1
            self.record(self.prefix + event.job_id, started, now, status_, result, error)
        except Exception:  # noqa: BLE001 - the listener must keep the scheduler alive
            log.exception("could not record the run of job %s", getattr(event, "job_id", "?"))

    def record(self, job_id: str, started: datetime, finished: datetime, status_: str, result: Any,
               error: str | None) -> None:
        """Write one row into ``job_runs``."""
        from store.db import is_db_fault
        from store.models import JobRun
        from store.owed import owe

        def write(session: Any) -> None:
            session.add(JobRun(job_id=job_id, started_at=started, finished_at=finished, status=status_,
                               result=result, error=error))
        try:
            with self.store.transaction() as session:
                write(session)
        except Exception as exc:
            if not is_db_fault(exc):
                raise
            # The database is gone: this process writes the row itself as soon as it is back.
            owe(f"job run {job_id} of {started.isoformat()}", self.store.url, write)


def configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextmanager
def stop_on_signals(what: str) -> Iterator[None]:
    """SIGTERM/SIGINT ask for a graceful stop; a second one exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if STOP.is_set():
            log.warning("%s again: exiting now (claims expire, unsent alerts stay in the outbox)", name)
            os._exit(128 + signum)
        log.info("%s: %s stops after the running jobs finish their current batch", name, what)
        STOP.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
