"""APScheduler wiring: the scheduled job functions, their plans from the config, and ``voxpop run``.

Job functions are module-level and take only plain strings (the config path, a product slug, a
source name), because the persistent job store keeps them as textual references
("scheduler:job_crawl"); each run reloads the config and calls the operations in ``operations.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from store.db import Store, create_table_once
from voxpop.config import Config, ConfigError
from voxpop.operations import (
    JOBSTORE_TABLE,
    JobError,
    classify_pending,
    crawl,
    deliver_alerts,
    detect_all,
    make_report,
    open_store,
    plain,
    shared_frontier,
    sync_config,
)
from voxpop.runtime import (
    STOP,
    JobRecorder,
    active_scheduler,
    configure_logging,
    export_redis_url,
    request_stop,
    stop_on_signals,
    stop_requested,
    wake,
)

__all__ = ["STOP", "JobRecorder", "request_stop", "stop_requested"]  # the run state lives in voxpop.runtime

log = logging.getLogger("voxpop.scheduler")

# ---------------------------------------------------------------- scheduling (APScheduler 3.x)
#
# `voxpop run` keeps one BackgroundScheduler whose jobs live in the same database (table
# apscheduler_jobs), so a restart keeps the schedule. Job functions are module-level and take only
# plain strings (the config path, a product slug, a source name): each run reloads the config and
# reuses this process's store. Detect, delivery, reports and each crawl run under a leader lock
# (store/locks.py), so a second scheduler or worker never does the same work at the same moment.

REPORT_EXTENSIONS = {"html": "html", "md": "md", "csv": "csv", "json": "json"}
_STORES: dict[str, Store] = {}
_STORES_GUARD = threading.Lock()
def config_ref(config: Config) -> str:
    """The config file as an absolute path for job arguments ('' when running on defaults)."""
    if config.path and Path(config.path).is_file():
        return str(Path(config.path).resolve())
    return ""


def shared_store(config: Config) -> Store:
    """This process's store for ``config.database_url`` (opened once, products synced every call)."""
    with _STORES_GUARD:
        store = _STORES.get(config.database_url)
        if store is None:
            store = _STORES[config.database_url] = open_store(config)
            return store
    sync_config(store, config)
    return store


def _job_context(config_path: str) -> tuple[Config, Store]:
    from voxpop.config import load_config

    config = load_config(config_path or None)
    return config, shared_store(config)


def job_crawl(config_path: str, product: str, source: str) -> dict[str, Any]:
    """Scheduled job: crawl one source of one product (a subprocess with the source's timeout)."""
    from store.locks import leader_lock

    config, store = _job_context(config_path)
    if shared_frontier(config):
        outcomes = crawl(config, product, source)  # other crawl workers may join: each page once per round
    else:
        with leader_lock(store, f"crawl:{product}:{source}") as held:
            if not held:
                return {"skipped": f"another process is crawling {product}/{source}"}
            outcomes = crawl(config, product, source)
    failed = [o for o in outcomes if o.get("status") == "failed"]
    if failed:
        raise JobError(f"crawl {product}/{source} failed: {failed[0].get('reason') or 'see crawl_runs'}")
    return {"outcomes": plain(outcomes)}


def job_classify(config_path: str) -> dict[str, Any]:
    """Scheduled job: classify pending posts in claimed batches until none is left (or a stop)."""
    config, store = _job_context(config_path)
    report = classify_pending(store, config, should_stop=STOP.is_set)
    if report.classified:
        wake("detect")
    return plain(report)


def job_detect(config_path: str) -> dict[str, Any]:
    """Scheduled job: detect issues for every product, then wake alert delivery."""
    config, store = _job_context(config_path)
    result = detect_all(store, config)
    if "skipped" not in result:
        wake("deliver")
    return result


def job_deliver(config_path: str, digest: bool = False) -> dict[str, Any]:
    """Scheduled job: deliver pending alerts (one message each, or the daily digest)."""
    config, store = _job_context(config_path)
    return deliver_alerts(store, config, digest=digest)


def job_report(config_path: str, name: str) -> dict[str, Any]:
    """Scheduled job: write (and email, when it has recipients) the configured report ``name``."""
    from datetime import UTC, timedelta

    from store.locks import leader_lock

    config, store = _job_context(config_path)
    spec = next((r for r in config.reports if r.name == name), None)
    if spec is None:
        raise JobError(f"no report {name!r} in {config.path}")
    with leader_lock(store, f"report:{name}") as held:
        if not held:
            return {"skipped": f"another process is writing report {name!r}"}
        until = datetime.now(UTC)
        since = until - timedelta(days=spec.since_days)
        base = Path(config_path).parent if config_path else Path.cwd()
        out = base / "reports" / f"{_safe_name(name)}-{until:%Y-%m-%d}.{REPORT_EXTENSIONS[spec.format]}"
        out.parent.mkdir(parents=True, exist_ok=True)
        path = make_report(store, config, list(spec.products) or None, since, until, spec.format, out,
                           email=bool(spec.recipients))
    return {"path": str(path)}


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "report"


@dataclass(frozen=True)
class JobPlan:
    """One job the config asks for: what runs, when, and with which plain arguments."""

    id: str
    role: str
    func: str  # textual reference "scheduler:job_x", stored in the job store
    args: tuple[Any, ...]
    trigger: Any
    name: str
    misfire_grace_time: int
    first_run_in_s: float | None = None  # a new job's first run (None: the trigger's first time)


def parse_clock(value: str, where: str) -> tuple[int, int]:
    """``"07:00"`` as (hour, minute); a :class:`ConfigError` naming ``where`` otherwise."""
    try:
        hour, minute = (int(part) for part in value.split(":"))
    except ValueError:
        raise ConfigError(f"{where}: expected a time HH:MM, got {value!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ConfigError(f"{where}: expected a time HH:MM, got {value!r}")
    return hour, minute


def cron_trigger(expr: str, timezone: str, where: str) -> Any:
    """A CronTrigger from ``"mon 07:00"``, ``"mon,thu 07:00"``, ``"daily 07:00"``, ``"07:00"`` or crontab."""
    from apscheduler.triggers.cron import CronTrigger

    parts = expr.split()
    try:
        if len(parts) == 5:
            return CronTrigger.from_crontab(expr, timezone=timezone)
        if len(parts) == 1:
            days, clock = "*", parts[0]
        elif len(parts) == 2:
            days, clock = parts
        else:
            raise ValueError(expr)
        hour, minute = parse_clock(clock, where)
        days = "*" if days.lower() in ("daily", "*", "every") else days.lower()
        return CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=timezone)
    except ConfigError:
        raise
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"{where}: expected e.g. 'mon 07:00', '07:00' or a crontab line, got {expr!r} "
                          f"({exc})") from None


def check_timezone(config: Config) -> str:
    """``[schedule].timezone`` if it names a known IANA zone, else a :class:`ConfigError`."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(config.schedule.timezone)
    except (LookupError, ValueError) as exc:
        raise ConfigError(f"{config.path}: schedule.timezone: expected an IANA zone like 'Europe/Berlin', "
                          f"got {config.schedule.timezone!r} ({exc.__class__.__name__})") from None
    return config.schedule.timezone


def planned_jobs(config: Config) -> list[JobPlan]:
    """Every job the config asks for, with stable ids (crawl:<product>:<source>, classify, ...)."""
    from apscheduler.triggers.interval import IntervalTrigger

    tz = check_timezone(config)
    ref = config_ref(config)
    where = config.path or "config"

    def interval(minutes: int) -> Any:
        return IntervalTrigger(minutes=minutes, timezone=tz)

    def grace(minutes: int) -> int:
        return int(max(60, min(minutes * 30, 3600)))  # half the interval, 1 min to 1 h

    plans: list[JobPlan] = []
    for spec in config.products:
        for source in spec.sources:
            plans.append(JobPlan(
                id=f"crawl:{spec.slug}:{source.name}", role="crawl", func="scheduler:job_crawl",
                args=(ref, spec.slug, source.name), trigger=interval(source.every_minutes),
                name=f"crawl {spec.slug}/{source.name} every {source.every_minutes} min",
                misfire_grace_time=grace(source.every_minutes), first_run_in_s=5.0 + 20.0 * len(plans)))
    sc = config.schedule
    plans.append(JobPlan("classify", "classify", "scheduler:job_classify", (ref,), interval(sc.classify_every_minutes),
                         f"classify pending posts every {sc.classify_every_minutes} min",
                         grace(sc.classify_every_minutes), first_run_in_s=1.0))
    plans.append(JobPlan("detect", "detect", "scheduler:job_detect", (ref,), interval(sc.detect_every_minutes),
                         f"detect issues every {sc.detect_every_minutes} min (and after classify)",
                         grace(sc.detect_every_minutes), first_run_in_s=30.0))
    if config.alerts.digest:
        hour, minute = parse_clock(sc.digest_at, f"{where}: schedule.digest_at")
        plans.append(JobPlan("digest", "alert", "scheduler:job_deliver", (ref, True),
                             cron_trigger(f"{hour:02d}:{minute:02d}", tz, f"{where}: schedule.digest_at"),
                             f"alert digest daily at {sc.digest_at} {tz}", 3600))
    else:
        plans.append(JobPlan("deliver", "alert", "scheduler:job_deliver", (ref, False),
                             interval(sc.deliver_every_minutes),
                             f"deliver alerts every {sc.deliver_every_minutes} min (and after detect)",
                             grace(sc.deliver_every_minutes), first_run_in_s=10.0))
    for i, report in enumerate(config.reports):
        plans.append(JobPlan(f"report:{report.name}", "report", "scheduler:job_report", (ref, report.name),
                             cron_trigger(report.cron, tz, f"{where}: reports[{i}].cron"),
                             f"report {report.name} at {report.cron} {tz}", 6 * 3600))
    return plans


def _same_schedule(job: Any, plan: JobPlan) -> bool:
    return (job.func_ref == plan.func and tuple(job.args) == plan.args
            and str(job.trigger) == str(plan.trigger)
            and str(getattr(job.trigger, "timezone", "")) == str(getattr(plan.trigger, "timezone", "")))


def sync_jobs(sched: Any, plans: Sequence[JobPlan]) -> dict[str, list[str]]:
    """Make the scheduler's jobs match ``plans``; unchanged jobs keep their next run time.

    Returns the ids added, kept and removed (jobs no longer in the config).
    """
    from datetime import timedelta

    existing = {job.id: job for job in sched.get_jobs()}
    changes: dict[str, list[str]] = {"added": [], "kept": [], "removed": []}
    for plan in plans:
        options = {"name": plan.name, "max_instances": 1, "coalesce": True,
                   "misfire_grace_time": plan.misfire_grace_time}
        job = existing.get(plan.id)
        if job is not None and _same_schedule(job, plan):
            sched.modify_job(plan.id, **options)
            changes["kept"].append(plan.id)
            continue
        extra: dict[str, Any] = {}
        if plan.first_run_in_s is not None:
            extra["next_run_time"] = datetime.now(sched.timezone) + timedelta(seconds=plan.first_run_in_s)
        sched.add_job(plan.func, plan.trigger, args=list(plan.args), id=plan.id, replace_existing=True,
                      **options, **extra)
        changes["added"].append(plan.id)
    for job_id in sorted(existing.keys() - {p.id for p in plans}):
        sched.remove_job(job_id)
        changes["removed"].append(job_id)
    return changes


def build_scheduler(config: Config, store: Store | None = None, *, max_workers: int = 4,
                    persistent: bool = True, roles: Sequence[str] | None = None) -> Any:
    """A started but paused BackgroundScheduler holding the configured jobs.

    With ``persistent`` (``voxpop run``) jobs live in the table ``apscheduler_jobs`` of the same
    database, so a restart keeps them and their next run times; jobs removed from the config are
    removed. Call ``.resume()`` to let it run, ``.shutdown()`` to stop. ``roles`` keeps only the jobs
    of those roles (crawl, classify, detect, alert, report).
    """
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    store = store or shared_store(config)
    with _STORES_GUARD:
        _STORES.setdefault(config.database_url, store)
    plans = [p for p in planned_jobs(config) if roles is None or p.role in roles]
    jobstore: Any = MemoryJobStore()
    if persistent:
        jobstore = SQLAlchemyJobStore(engine=store.engine, tablename=JOBSTORE_TABLE)
        create_table_once(store.engine, jobstore.jobs_t)  # two schedulers starting at once must not both create it
    sched = BackgroundScheduler(
        jobstores={"default": jobstore}, executors={"default": ThreadPoolExecutor(max_workers)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone=check_timezone(config))
    recorder = JobRecorder(store)
    sched.add_listener(recorder, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    sched.voxpop_recorder = recorder
    sched.start(paused=True)
    try:
        sched.voxpop_changes = sync_jobs(sched, plans)
    except Exception:
        sched.shutdown(wait=False)
        raise
    return sched


def describe_jobs(sched: Any) -> list[dict[str, Any]]:
    """Each job's id, name and next run time (for logs and tests)."""
    return [{"id": job.id, "name": job.name,
             "next_run": job.next_run_time.isoformat() if job.next_run_time else None}
            for job in sorted(sched.get_jobs(), key=lambda j: j.id)]


def run_forever(store: Store, config: Config, *, max_workers: int = 4,
                stop_after_s: float | None = None) -> dict[str, Any]:
    """Run the scheduler in the foreground until SIGTERM/SIGINT (or ``stop_after_s``, for tests).

    On a stop signal no new job starts; running jobs finish their current batch (classify checks
    between batches; a crawl subprocess ends by itself or at its timeout) and the process exits.
    """
    configure_logging()
    export_redis_url(config)
    STOP.clear()
    started = time.monotonic()
    with stop_on_signals("the scheduler"):
        sched = build_scheduler(config, store, max_workers=max_workers)
        changes = sched.voxpop_changes
        log.info("voxpop scheduler on %s: %d jobs (%d new, %d kept, %d removed)",
                 store.engine.url.render_as_string(hide_password=True), len(sched.get_jobs()),
                 len(changes["added"]), len(changes["kept"]), len(changes["removed"]))
        for job in describe_jobs(sched):
            log.info("  %-32s next %s  (%s)", job["id"], job["next_run"], job["name"])
        try:
            with active_scheduler(sched):
                sched.resume()
                log.info("running; press Ctrl-C or send SIGTERM to stop")
                while not STOP.wait(0.5):
                    if stop_after_s is not None and time.monotonic() - started >= stop_after_s:
                        break
                log.info("stopping: waiting for running jobs")
                sched.shutdown(wait=True)
        finally:
            if sched.running:
                sched.shutdown(wait=False)
    log.info("scheduler stopped")
    return {"runs": dict(sched.voxpop_recorder.counts), "duration_s": round(time.monotonic() - started, 1)}
