"""``voxpop worker --role crawl|classify|detect|alert``: one kind of work, any number of machines.

Workers share one PostgreSQL (and Redis for the crawl frontier): classify workers claim batches with
``SKIP LOCKED``, detect and alert run under a leader lock, crawls share the frontier or take a lock.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from scheduler import build_scheduler  # the same job plans as `voxpop run`, kept to one role
from store.claims import DEFAULT_LEASE_S, backlog
from store.db import Store
from store.repo import utcnow
from voxpop.config import Config
from voxpop.operations import (
    JobError,
    classify_pending,
    crawl,
    deliver_alerts,
    detect_all,
    plain,
    shared_frontier,
    worker_name,
)
from voxpop.runtime import STOP, JobRecorder, active_scheduler, configure_logging, export_redis_url, stop_on_signals

log = logging.getLogger("voxpop.worker")
ROLES = ("crawl", "classify", "detect", "alert")


def _in_flight(store: Store) -> int:
    from store.models import POST_CLASSIFYING, Post

    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(Post).where(Post.status == POST_CLASSIFYING)) or 0


def _classify_until_idle(store: Store, config: Config, worker: str, batch_size: int, lease_s: int,
                         poll_s: float) -> dict[str, Any]:
    totals = {"classified": 0, "skipped_language": 0, "batches": 0}
    while not STOP.is_set():
        report = classify_pending(store, config, worker=worker, batch_size=batch_size, lease_s=lease_s,
                                  should_stop=STOP.is_set)
        for key in totals:
            totals[key] += getattr(report, key)
        if report.batches:
            continue
        # Nothing to claim. Posts still held by other workers are either finished soon or, if their
        # worker died, claimable again when the lease runs out: wait for them rather than lose them.
        if not _in_flight(store):
            break
        STOP.wait(poll_s)
    with store.sessions() as session:
        totals["backlog"] = backlog(session)  # type: ignore[assignment]
    return totals


def run_worker(store: Store, config: Config, role: str, *, until_idle: bool = False, batch_size: int = 256,
               lease_s: int = DEFAULT_LEASE_S, poll_s: float = 2.0, max_workers: int = 2) -> dict[str, Any]:
    """Run one kind of work; any number of workers may share one PostgreSQL (and Redis for crawls).

    crawl: every configured source (sharing the frontier through scrapy-redis when ``redis_url`` is
    set); classify: claimed batches (``batch_size`` posts, lease ``lease_s``); detect and alert: under
    a leader lock. ``until_idle`` does the work that is there and returns; otherwise the role's jobs
    run on their clocks until SIGTERM/SIGINT. Returns what was done.
    """
    if role not in ROLES:
        raise JobError(f"unknown worker role {role!r} (expected one of {', '.join(ROLES)})")
    configure_logging()
    export_redis_url(config)
    STOP.clear()
    name = worker_name()
    started = time.monotonic()
    summary: dict[str, Any] = {"role": role, "worker": name, "until_idle": until_idle}
    log.info("voxpop worker %s (role %s%s) on %s", name, role, ", until idle" if until_idle else "",
             store.engine.url.render_as_string(hide_password=True))
    with stop_on_signals(f"the {role} worker"):
        if until_idle:
            summary.update(_work_until_idle(store, config, role, name, batch_size, lease_s, poll_s))
        elif role == "classify":
            while not STOP.is_set():
                summary.update(_classify_until_idle(store, config, name, batch_size, lease_s, poll_s))
                STOP.wait(config.schedule.classify_every_minutes * 60 if not summary["classified"] else poll_s)
        else:
            summary.update(_run_role_scheduler(store, config, role, max_workers))
    summary["stopped"] = STOP.is_set()
    summary["duration_s"] = round(time.monotonic() - started, 2)
    log.info("worker %s done: %s", name, json.dumps(summary, default=str)[:500])
    return summary


def _work_until_idle(store: Store, config: Config, role: str, name: str, batch_size: int, lease_s: int,
                     poll_s: float) -> dict[str, Any]:
    recorder = JobRecorder(store)
    if role == "classify":
        begun = utcnow()
        result = _classify_until_idle(store, config, name, batch_size, lease_s, poll_s)
        recorder.record("worker:classify", begun, utcnow(), "ok", plain(result), None)
        return result
    if role == "crawl":
        from store.locks import leader_lock

        outcomes: list[Any] = []
        for spec in config.products:
            for source in spec.sources:
                if STOP.is_set():
                    break
                begun = utcnow()
                # With a shared frontier every worker joins the same crawl; without one, a lock
                # keeps two workers from crawling the same source at once.
                done: list[dict[str, Any]]
                if shared_frontier(config):
                    done = crawl(config, spec.slug, source.name)
                else:
                    with leader_lock(store, f"crawl:{spec.slug}:{source.name}") as held:
                        done = crawl(config, spec.slug, source.name) if held else [{"skipped": "locked"}]
                outcomes.extend(done)
                failed = [o for o in done if o.get("status") == "failed"]
                recorder.record(f"crawl:{spec.slug}:{source.name}", begun, utcnow(), "error" if failed else "ok",
                                plain(done), str(failed[0].get("reason")) if failed else None)
        return {"crawls": plain(outcomes)}
    begun = utcnow()
    try:
        result = detect_all(store, config) if role == "detect" else deliver_alerts(
            store, config, digest=config.alerts.digest)
    except Exception as exc:
        recorder.record(f"worker:{role}", begun, utcnow(), "error", None, f"{exc.__class__.__name__}: {exc}")
        raise
    recorder.record(f"worker:{role}", begun, utcnow(), "skipped" if "skipped" in result else "ok", result, None)
    return {"result": result}


def _run_role_scheduler(store: Store, config: Config, role: str, max_workers: int) -> dict[str, Any]:
    """A worker's own in-memory scheduler with just its role's jobs (first runs right away)."""
    from datetime import timedelta

    sched = build_scheduler(config, store, max_workers=max_workers, persistent=False, roles=[role])
    now = datetime.now(sched.timezone)
    for i, job in enumerate(sched.get_jobs()):
        if job.id != "digest":
            job.modify(next_run_time=now + timedelta(seconds=i))
    try:
        with active_scheduler(sched):
            sched.resume()
            while not STOP.wait(0.5):
                pass
            sched.shutdown(wait=True)
    finally:
        if sched.running:
            sched.shutdown(wait=False)
    return {"runs": dict(sched.voxpop_recorder.counts)}
