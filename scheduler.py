"""Job functions (crawl, classify, detect, alert, report, status) and their APScheduler wiring.

Every CLI command calls one of these; the scheduler runs the same functions on a clock. Each job
reads from and writes to the store, so any stage can be rerun, resumed or run on another machine.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from config import Config, ConfigError, ProductSpec
from store.claims import (
    DEFAULT_LEASE_S,
    ClaimedPost,
    ClassificationRow,
    backlog,
    claim_pending,
    requeue_older_models,
    save_classifications,
)
from store.db import Store
from store.models import CrawlRun, Product, Source
from store.repo import ensure_product, ensure_source, utcnow

if TYPE_CHECKING:
    from classify import Classifier

log = logging.getLogger("voxpop.jobs")
Progress = Callable[[int], None]


class JobError(RuntimeError):
    """A job cannot run as asked (unknown product, missing input, ...): one clear line for the user."""


def open_store(config: Config) -> Store:
    """Open (and migrate on first use) the configured database and sync products and sources into it."""
    store = Store(config.database_url)
    sync_config(store, config)
    return store


def sync_config(store: Store, config: Config) -> None:
    """Make the store's products and sources match the config (nothing is deleted)."""
    with store.transaction() as session:
        for spec in config.products:
            product = ensure_product(session, spec.slug, spec.name, spec.own)
            for source in spec.sources:
                ensure_source(session, product.id, source.name, source.spider, dict(source.params))


def product_ids(store: Store, slugs: Sequence[str]) -> dict[str, int]:
    """Map product slugs to ids; an unknown slug is a :class:`JobError`."""
    with store.sessions() as session:
        found = {slug: pid for slug, pid in session.execute(
            select(Product.slug, Product.id).where(Product.slug.in_(list(slugs))))}
    missing = [s for s in slugs if s not in found]
    if missing:
        raise JobError(f"unknown product(s): {', '.join(missing)} (add them to voxpop.toml or import into them)")
    return found


# ---------------------------------------------------------------- crawl


COMMUNITY_SPIDERS = ("reddit", "hackernews", "stackexchange", "github", "mastodon", "bluesky")


def also_argument(config: Config, product: str) -> str:
    """The ``also`` argument of a community spider: the other products and the names that mark them.

    ``slug:Name|keyword,...``: a post naming another product is linked to it too.
    """
    parts = []
    for other in config.products:
        if other.slug == product:
            continue
        words = [w for w in (other.name, *other.keywords) if w]
        clean = sorted({w.replace(",", " ").replace("|", " ").replace(":", " ").strip() for w in words} - {""})
        parts.append(f"{other.slug}:{'|'.join(clean)}" if clean else other.slug)
    return ",".join(parts)


def crawl(config: Config, product: str, source: str | None = None, *,
          base_url: str | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run the configured sources of a product, each crawl in its own process with a timeout.

    A source that fails ends with its reason recorded; the other sources still run.
    """
    from spiders.runner import run_crawl

    spec = config.product(product)
    sources = [s for s in spec.sources if source is None or s.name == source]
    if not sources:
        raise JobError(f"product {product!r} has no source {source!r}" if source else
                       f"product {product!r} has no sources configured")
    outcomes = []
    for src in sources:
        params = dict(src.params)
        if base_url:
            params["base_url"] = base_url
        if src.spider in COMMUNITY_SPIDERS and "also" not in params:
            params["also"] = also_argument(config, product)
        outcome = run_crawl(product_slug=product, source_name=src.name, spider=src.spider, params=params,
                            database_url=config.database_url, timeout_s=src.timeout_s,
                            since=config.crawl.since.isoformat() if config.crawl.since else None,
                            extra_settings={"VOXPOP_EVERY_MINUTES": src.every_minutes})  # shared-frontier round
        outcomes.append(outcome.as_dict() if hasattr(outcome, "as_dict") else dict(vars(outcome)))
        if progress:
            progress(1)
    return outcomes


# ---------------------------------------------------------------- classify


@lru_cache(maxsize=2)
def _cached_classifier(model_dir: str | None, batch_size: int, max_tokens: int) -> Classifier:
    from classify import Classifier

    return Classifier(model_dir, batch_size=batch_size, max_tokens=max_tokens)


def get_classifier(config: Config) -> Classifier:
    """The configured classifier, loaded once per process."""
    spec = config.classify
    return _cached_classifier(spec.model_dir, spec.batch_size, spec.max_tokens)


@dataclass
class ClassifyReport:
    """What a store-mode classify run did."""

    classified: int = 0
    skipped_language: int = 0
    requeued: int = 0
    batches: int = 0
    model_version: str = ""
    backlog: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def worker_name() -> str:
    """A token that names this worker process in claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _jobs_by_product_id(store: Store, config: Config) -> dict[int, list[Any]]:
    from classify import Job

    ids = product_ids(store, [p.slug for p in config.products]) if config.products else {}
    return {ids[p.slug]: [Job(j.id, j.statement, tuple(j.examples)) for j in p.jobs] for p in config.products}


def classify_pending(store: Store, config: Config, *, classifier: Classifier | None = None,
                     limit: int | None = None, batch_size: int = 256, reclassify: bool = False,
                     product: str | None = None, worker: str | None = None, lease_s: int = DEFAULT_LEASE_S,
                     progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> ClassifyReport:
    """Classify the store's pending posts in claimed batches until none is left (or ``limit``).

    Streaming: one batch in memory at a time. Resumable: a killed run leaves its claim to expire
    and the posts are claimed again; saved results are never redone. ``reclassify`` first sets
    posts classified by an older model back to pending.
    """
    if classifier is None and not reclassify:
        with store.sessions() as session:
            waiting = backlog(session)
        if not waiting.get("pending") and not waiting.get("classifying"):
            return ClassifyReport(backlog=waiting)  # nothing to do: do not pay for loading the model
    model = classifier or get_classifier(config)
    worker = worker or worker_name()
    report = ClassifyReport(model_version=model.model_version)
    only = list(product_ids(store, [product]).values()) if product else None
    if reclassify:
        with store.transaction() as session:
            report.requeued = requeue_older_models(session, model.model_version, only)
    jobs = _jobs_by_product_id(store, config)
    while limit is None or report.classified + report.skipped_language < limit:
        if should_stop and should_stop():
            break
        take = batch_size if limit is None else min(batch_size, limit - report.classified - report.skipped_language)
        with store.transaction() as session:
            claimed = claim_pending(session, worker, take, lease_s=lease_s, product_ids=only)
        if not claimed:
            break
        rows = _classify_batch(model, claimed, jobs)
        with store.transaction() as session:
            save_classifications(session, worker, rows)
        report.batches += 1
        report.skipped_language += sum(1 for r in rows if r.skipped)
        report.classified += sum(1 for r in rows if not r.skipped)
        if progress:
            progress(len(rows))
    with store.sessions() as session:
        report.backlog = backlog(session)
    return report


def _classify_batch(model: Classifier, posts: list[ClaimedPost], jobs: dict[int, list[Any]]) -> list[ClassificationRow]:
    rows: list[ClassificationRow] = []
    by_product: dict[int, list[ClaimedPost]] = {}
    for post in posts:
        by_product.setdefault(post.product_id, []).append(post)
    for product_id, group in by_product.items():
        predictions = model.predict([p.text for p in group], jobs.get(product_id, []),
                                    titles=[p.title for p in group], ratings=[p.rating for p in group])
        for post, pred in zip(group, predictions, strict=True):
            rows.append(ClassificationRow(
                post_id=post.id, model_version=pred.model_version, sentiment=pred.sentiment,
                sentiment_score=float(pred.sentiment_score), need_type=pred.need_type,
                need_score=float(pred.need_score), unmet_need=bool(pred.unmet_need),
                jobs=[{"job": j.job, "score": round(float(j.score), 4)} for j in pred.jobs],
                evidence=pred.evidence, embedding=pred.embedding.astype("float32").tobytes(),
                skipped=pred.language == "other",
            ))
    return rows


# ---------------------------------------------------------------- report


def make_report(store: Store, config: Config, products: Sequence[str] | None, since: datetime, until: datetime,
                fmt: str, out_path: Path, *, email: bool = False) -> Path:
    """Build a comparison report from SQL aggregates, write it, record it, and optionally email it."""
    from alerts.compare import ReportError, build_report
    from alerts.report import write_report
    from store.models import Report

    if products:
        product_ids(store, list(products))  # a clear error for unknown slugs
    jobs = {p.slug: list(p.jobs) for p in config.products}
    with store.sessions() as session:
        try:
            data = build_report(session, list(products) if products else None, since, until, jobs_by_product=jobs)
        except ReportError as exc:
            raise JobError(str(exc)) from None
    path = write_report(data, fmt, out_path)
    with store.transaction() as session:
        row = Report(products=list(products or []), period_start=since, period_end=until, format=fmt,
                     path=str(path), created_at=utcnow(), summary={"summary": data.get("summary")})
        session.add(row)
        session.flush()
        report_id = row.id
    if email:
        from alerts.deliver import send_report

        send_report(store, config, report_id, data, path)
    return path


# ---------------------------------------------------------------- status


def status(store: Store, config: Config) -> dict[str, Any]:
    """Backlogs, the last crawl of each source, undelivered alerts and recent job runs."""
    from store.models import Alert, Delivery

    with store.sessions() as session:
        last_runs = {}
        latest = (select(CrawlRun.source_id, func.max(CrawlRun.id)).group_by(CrawlRun.source_id)).subquery()
        rows = session.execute(
            select(CrawlRun, Source.name).join(latest, latest.c[1] == CrawlRun.id)
            .outerjoin(Source, Source.id == CrawlRun.source_id)
        ).all()
        for run, source_name in rows:
            last_runs[f"{run.product_slug}/{source_name or run.spider}"] = {
                "spider": run.spider, "status": run.status, "reason": run.reason,
                "started_at": run.started_at.isoformat(), "stored": run.stored, "updated": run.updated,
                "dropped": run.dropped, "reported_total": (run.stats or {}).get("reported_total"),
                "caps_hit": (run.stats or {}).get("caps_hit", []),
            }
        by_status = select(Delivery.status, func.count()).group_by(Delivery.status)
        deliveries = {st: n for st, n in session.execute(by_status)}
        failed = [
            {"delivery": d.id, "target": d.target, "attempts": d.attempts, "error": d.last_error}
            for d in session.scalars(select(Delivery).where(Delivery.status == "failed").limit(20))
        ]
        job_runs = job_history(session)  # last run, result, failures and next run of each job
        counts = {
            "products": session.scalar(select(func.count()).select_from(Product)) or 0,
            "alerts": session.scalar(select(func.count()).select_from(Alert)) or 0,
        }
        return {
            "database": store.engine.url.render_as_string(hide_password=True),
            "posts": backlog(session), "counts": counts, "crawls": last_runs,
            "deliveries": deliveries, "failed_deliveries": failed, "jobs": job_runs,
            "undelivered": sum(n for st, n in deliveries.items() if st != "sent"),
            "crawl_backlog": crawl_backlog(session, config),
        }


def configured_product(config: Config, slug: str) -> ProductSpec | None:
    """The product's config, or None for products known only to the store (e.g. imported)."""
    try:
        return config.product(slug)
    except ConfigError:
        return None


# ---------------------------------------------------------------- scheduling (APScheduler 3.x)
#
# `voxpop run` keeps one BackgroundScheduler whose jobs live in the same database (table
# apscheduler_jobs), so a restart keeps the schedule. Job functions are module-level and take only
# plain strings (the config path, a product slug, a source name): each run reloads the config and
# reuses this process's store. Detect, delivery, reports and each crawl run under a leader lock
# (store/locks.py), so a second scheduler or worker never does the same work at the same moment.

JOBSTORE_TABLE = "apscheduler_jobs"
ROLES = ("crawl", "classify", "detect", "alert")
REPORT_EXTENSIONS = {"html": "html", "md": "md", "csv": "csv", "json": "json"}
_STOP = threading.Event()
_STORES: dict[str, Store] = {}
_STORES_GUARD = threading.Lock()
_ACTIVE: dict[str, Any] = {}  # "scheduler": the scheduler running in this process (detect-after-classify)


def request_stop() -> None:
    """Ask running jobs and workers in this process to finish their current batch and stop."""
    _STOP.set()


def stop_requested() -> bool:
    """Whether a stop was requested (SIGTERM/SIGINT or :func:`request_stop`)."""
    return _STOP.is_set()


def config_ref(config: Config) -> str:
    """The config file as an absolute path for job arguments ('' when running on defaults)."""
    if config.path and Path(config.path).is_file():
        return str(Path(config.path).resolve())
    return ""


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a job result (dataclasses via ``as_dict``)."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    return json.loads(json.dumps(value, default=str))


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
    from config import load_config

    config = load_config(config_path or None)
    return config, shared_store(config)


def detect_all(store: Store, config: Config) -> dict[str, Any]:
    """Run issue detection for every configured product, as the only detect leader.

    Returns the per-product reports; a product that fails does not stop the others, but the run
    then ends with a :class:`JobError` naming it.
    """
    from store.locks import leader_lock

    with leader_lock(store, "detect") as held:
        if not held:
            return {"skipped": "another process holds the detect lock"}
        from alerts.issues import run_detect

        results: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for spec in config.products:
            try:
                results[spec.slug] = _plain(run_detect(store, config, spec.slug))
            except Exception as exc:  # noqa: BLE001 - one product's failure must not stop the others
                log.exception("detect failed for %s", spec.slug)
                errors[spec.slug] = f"{exc.__class__.__name__}: {exc}"
    if errors:
        raise JobError("detect failed for " + "; ".join(f"{slug}: {err}" for slug, err in errors.items()))
    return {"products": results}


def deliver_alerts(store: Store, config: Config, *, digest: bool = False) -> dict[str, Any]:
    """Deliver pending alerts as the only alert leader (never two senders at once)."""
    from store.locks import leader_lock

    with leader_lock(store, "alert") as held:
        if not held:
            return {"skipped": "another process holds the alert lock"}
        from alerts.deliver import deliver_pending

        return {"delivered": _plain(deliver_pending(store, config, digest=digest))}


def job_crawl(config_path: str, product: str, source: str) -> dict[str, Any]:
    """Scheduled job: crawl one source of one product (a subprocess with the source's timeout)."""
    from store.locks import leader_lock

    config, store = _job_context(config_path)
    if _shared_frontier(config):
        outcomes = crawl(config, product, source)  # other crawl workers may join: each page once per round
    else:
        with leader_lock(store, f"crawl:{product}:{source}") as held:
            if not held:
                return {"skipped": f"another process is crawling {product}/{source}"}
            outcomes = crawl(config, product, source)
    failed = [o for o in outcomes if o.get("status") == "failed"]
    if failed:
        raise JobError(f"crawl {product}/{source} failed: {failed[0].get('reason') or 'see crawl_runs'}")
    return {"outcomes": _plain(outcomes)}


def _shared_frontier(config: Config) -> bool:
    return bool(config.crawl.redis_url or os.environ.get("VOXPOP_REDIS_URL"))


def job_classify(config_path: str) -> dict[str, Any]:
    """Scheduled job: classify pending posts in claimed batches until none is left (or a stop)."""
    config, store = _job_context(config_path)
    report = classify_pending(store, config, should_stop=_STOP.is_set)
    if report.classified:
        _wake("detect")
    return _plain(report)


def job_detect(config_path: str) -> dict[str, Any]:
    """Scheduled job: detect issues for every product, then wake alert delivery."""
    config, store = _job_context(config_path)
    result = detect_all(store, config)
    if "skipped" not in result:
        _wake("deliver")
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


def _wake(job_id: str) -> None:
    """Run a job of this process's scheduler now (detect after classify, deliver after detect)."""
    sched = _ACTIVE.get("scheduler")
    if sched is None or _STOP.is_set() or not sched.running:
        return

    def wake() -> None:
        try:
            if sched.running and sched.get_job(job_id) is not None:
                sched.modify_job(job_id, next_run_time=datetime.now(sched.timezone))
        except Exception:  # noqa: BLE001 - waking early is an optimisation; the clock still runs it
            log.debug("could not wake job %s", job_id, exc_info=True)

    # Not from this job's thread: a shutdown holds the job-store lock while it waits for this job.
    threading.Thread(target=wake, name=f"wake-{job_id}", daemon=True).start()


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
                result = _plain(event.retval) if event.retval is not None else None
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
        from store.models import JobRun

        with self.store.transaction() as session:
            session.add(JobRun(job_id=job_id, started_at=started, finished_at=finished, status=status_,
                               result=result, error=error))


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
    jobstore = SQLAlchemyJobStore(engine=store.engine, tablename=JOBSTORE_TABLE) if persistent else MemoryJobStore()
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


def export_redis_url(config: Config) -> None:
    """Hand ``[crawl].redis_url`` to the crawl subprocesses (spiders/settings.py reads VOXPOP_REDIS_URL)."""
    if config.crawl.redis_url and not os.environ.get("VOXPOP_REDIS_URL"):
        os.environ["VOXPOP_REDIS_URL"] = config.crawl.redis_url


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@contextmanager
def _stop_on_signals(what: str) -> Iterator[None]:
    """SIGTERM/SIGINT ask for a graceful stop; a second one exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if _STOP.is_set():
            log.warning("%s again: exiting now (claims expire, unsent alerts stay in the outbox)", name)
            os._exit(128 + signum)
        log.info("%s: %s stops after the running jobs finish their current batch", name, what)
        _STOP.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
    _configure_logging()
    export_redis_url(config)
    _STOP.clear()
    started = time.monotonic()
    with _stop_on_signals("the scheduler"):
        sched = build_scheduler(config, store, max_workers=max_workers)
        changes = sched.voxpop_changes
        log.info("voxpop scheduler on %s: %d jobs (%d new, %d kept, %d removed)",
                 store.engine.url.render_as_string(hide_password=True), len(sched.get_jobs()),
                 len(changes["added"]), len(changes["kept"]), len(changes["removed"]))
        for job in describe_jobs(sched):
            log.info("  %-32s next %s  (%s)", job["id"], job["next_run"], job["name"])
        _ACTIVE["scheduler"] = sched
        try:
            sched.resume()
            log.info("running; press Ctrl-C or send SIGTERM to stop")
            while not _STOP.wait(0.5):
                if stop_after_s is not None and time.monotonic() - started >= stop_after_s:
                    break
            log.info("stopping: waiting for running jobs")
            sched.shutdown(wait=True)
        finally:
            _ACTIVE.pop("scheduler", None)
            if sched.running:
                sched.shutdown(wait=False)
    log.info("scheduler stopped")
    return {"runs": dict(sched.voxpop_recorder.counts), "duration_s": round(time.monotonic() - started, 1)}


def _in_flight(store: Store) -> int:
    from store.models import POST_CLASSIFYING, Post

    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(Post).where(Post.status == POST_CLASSIFYING)) or 0


def _classify_until_idle(store: Store, config: Config, worker: str, batch_size: int, lease_s: int,
                         poll_s: float) -> dict[str, Any]:
    totals = {"classified": 0, "skipped_language": 0, "batches": 0}
    while not _STOP.is_set():
        report = classify_pending(store, config, worker=worker, batch_size=batch_size, lease_s=lease_s,
                                  should_stop=_STOP.is_set)
        for key in totals:
            totals[key] += getattr(report, key)
        if report.batches:
            continue
        # Nothing to claim. Posts still held by other workers are either finished soon or, if their
        # worker died, claimable again when the lease runs out: wait for them rather than lose them.
        if not _in_flight(store):
            break
        _STOP.wait(poll_s)
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
    _configure_logging()
    export_redis_url(config)
    _STOP.clear()
    name = worker_name()
    started = time.monotonic()
    summary: dict[str, Any] = {"role": role, "worker": name, "until_idle": until_idle}
    log.info("voxpop worker %s (role %s%s) on %s", name, role, ", until idle" if until_idle else "",
             store.engine.url.render_as_string(hide_password=True))
    with _stop_on_signals(f"the {role} worker"):
        if until_idle:
            summary.update(_work_until_idle(store, config, role, name, batch_size, lease_s, poll_s))
        elif role == "classify":
            while not _STOP.is_set():
                summary.update(_classify_until_idle(store, config, name, batch_size, lease_s, poll_s))
                _STOP.wait(config.schedule.classify_every_minutes * 60 if not summary["classified"] else poll_s)
        else:
            summary.update(_run_role_scheduler(store, config, role, max_workers))
    summary["stopped"] = _STOP.is_set()
    summary["duration_s"] = round(time.monotonic() - started, 2)
    log.info("worker %s done: %s", name, json.dumps(summary, default=str)[:500])
    return summary


def _work_until_idle(store: Store, config: Config, role: str, name: str, batch_size: int, lease_s: int,
                     poll_s: float) -> dict[str, Any]:
    recorder = JobRecorder(store)
    if role == "classify":
        begun = utcnow()
        result = _classify_until_idle(store, config, name, batch_size, lease_s, poll_s)
        recorder.record("worker:classify", begun, utcnow(), "ok", _plain(result), None)
        return result
    if role == "crawl":
        from store.locks import leader_lock

        outcomes: list[Any] = []
        for spec in config.products:
            for source in spec.sources:
                if _STOP.is_set():
                    break
                begun = utcnow()
                # With a shared frontier every worker joins the same crawl; without one, a lock
                # keeps two workers from crawling the same source at once.
                done: list[dict[str, Any]]
                if _shared_frontier(config):
                    done = crawl(config, spec.slug, source.name)
                else:
                    with leader_lock(store, f"crawl:{spec.slug}:{source.name}") as held:
                        done = crawl(config, spec.slug, source.name) if held else [{"skipped": "locked"}]
                outcomes.extend(done)
                failed = [o for o in done if o.get("status") == "failed"]
                recorder.record(f"crawl:{spec.slug}:{source.name}", begun, utcnow(), "error" if failed else "ok",
                                _plain(done), str(failed[0].get("reason")) if failed else None)
        return {"crawls": _plain(outcomes)}
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
    _ACTIVE["scheduler"] = sched
    try:
        sched.resume()
        while not _STOP.wait(0.5):
            pass
        sched.shutdown(wait=True)
    finally:
        _ACTIVE.pop("scheduler", None)
        if sched.running:
            sched.shutdown(wait=False)
    return {"runs": dict(sched.voxpop_recorder.counts)}


def job_history(session: Any, limit: int = 500) -> dict[str, dict[str, Any]]:
    """Per job: last run, its status, result and error, consecutive failures, last success, next run."""
    from store.models import JobRun

    jobs: dict[str, dict[str, Any]] = {}
    for run in session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)):
        entry = jobs.get(run.job_id)
        if entry is None:
            jobs[run.job_id] = entry = {
                "last_run": run.started_at.isoformat(), "status": run.status, "result": run.result,
                "error": run.error, "failures": 0, "last_ok": None, "next_run": None, "_open": True,
            }
        if run.status in ("error", "missed"):
            entry["failures"] += 1 if entry["_open"] else 0
        elif run.status == "ok":
            entry["_open"] = False
            entry["last_ok"] = entry["last_ok"] or run.started_at.isoformat()
    for job_id, next_run in _next_runs(session).items():
        jobs.setdefault(job_id, {"last_run": None, "status": "never run", "result": None, "error": None,
                                 "failures": 0, "last_ok": None, "_open": False})["next_run"] = next_run
    for entry in jobs.values():
        entry.pop("_open", None)
    return dict(sorted(jobs.items()))


def _next_runs(session: Any) -> dict[str, str | None]:
    """Next run times straight from the job store table (no scheduler needed)."""
    from datetime import UTC

    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import text

    if not sa_inspect(session.connection()).has_table(JOBSTORE_TABLE):
        return {}
    rows = session.execute(text(f"SELECT id, next_run_time FROM {JOBSTORE_TABLE}")).all()
    return {job_id: datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else "paused"
            for job_id, ts in rows}


def crawl_backlog(session: Any, config: Config) -> dict[str, Any]:
    """Sources due (or never crawled) by their interval, and queued requests in the shared frontier."""
    from datetime import timedelta

    due: list[str] = []
    now = utcnow()
    for spec in config.products:
        for source in spec.sources:
            last = session.scalar(
                select(func.max(CrawlRun.started_at)).join(Source, Source.id == CrawlRun.source_id)
                .join(Product, Product.id == Source.product_id)
                .where(Product.slug == spec.slug, Source.name == source.name))
            if last is None or now - last >= timedelta(minutes=source.every_minutes):
                due.append(f"{spec.slug}/{source.name}")
    result: dict[str, Any] = {"sources_due": due}
    if config.crawl.redis_url:
        try:
            from spiders.distributed import frontier_sizes

            result["frontier"] = frontier_sizes(config.crawl.redis_url)
        except Exception as exc:  # noqa: BLE001 - status must work when Redis is down
            result["frontier"] = f"unavailable: {exc.__class__.__name__}: {exc}"
    return result
