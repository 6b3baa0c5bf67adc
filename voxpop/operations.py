"""What voxpop does: crawl, classify the backlog, detect, deliver, report, status.

Every CLI command calls one of these; the scheduler (``scheduler.py``) and the workers
(``workers.py``) run the same functions on a clock. Each reads from and writes to the store, so any
stage can be rerun, resumed or run on another machine.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

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
from store.rollups import state as rollup_state
from voxpop.config import Config, ConfigError, ProductSpec
from voxpop.core.errors import JobError  # noqa: F401 - re-exported: callers catch it from here

if TYPE_CHECKING:
    from classify import Classifier

JOBSTORE_TABLE = "apscheduler_jobs"  # APScheduler's job store table (scheduler.py); status reads next runs from it

log = logging.getLogger("voxpop.jobs")
Progress = Callable[[int], None]


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
          base_url: str | None = None, progress: Progress | None = None,
          on_progress: Callable[[str, dict[str, int]], None] | None = None) -> list[dict[str, Any]]:
    """Run the configured sources of a product, each crawl in its own process with a timeout.

    A source that fails ends with its reason recorded; the other sources still run.
    ``on_progress(source, figures)`` is called as the child logs pages crawled and posts stored.
    """
    from spiders.registry import community_spiders
    from spiders.runner import progress_of, run_crawl

    def watcher(source_name: str) -> Callable[[str], None] | None:
        if on_progress is None:
            return None

        def on_line(line: str) -> None:
            figures = progress_of(line)
            if figures:
                on_progress(source_name, figures)
        return on_line

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
        if src.spider in community_spiders() and "also" not in params:
            params["also"] = also_argument(config, product)
        outcome = run_crawl(product_slug=product, source_name=src.name, spider=src.spider, params=params,
                            database_url=config.database_url, timeout_s=src.timeout_s,
                            since=config.crawl.since.isoformat() if config.crawl.since else None, crawl=config.crawl,
                            extra_settings={"VOXPOP_EVERY_MINUTES": src.every_minutes},  # shared-frontier round
                            on_line=watcher(src.name))
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
    rescored_jobs: int = 0  # posts whose jobs were rescored for a changed job set (from stored embeddings)
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
                     progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                     before_batch: Callable[[], Any] | None = None) -> ClassifyReport:
    """Classify the store's pending posts in claimed batches until none is left (or ``limit``).

    Streaming: one batch in memory at a time. Resumable: a killed run leaves its claim to expire
    and the posts are claimed again; saved results are never redone. ``reclassify`` first sets
    posts classified by an older model back to pending.
    """
    from voxpop.learning import ProductTuning, rescore_stale_jobs, stale_taxonomy

    if classifier is None and not reclassify:
        with store.sessions() as session:
            waiting = backlog(session)
            stale = stale_taxonomy(session, config)
        if not waiting.get("pending") and not waiting.get("classifying") and not stale:
            return ClassifyReport(backlog=waiting)  # nothing to do: do not pay for loading the model
    model = classifier or get_classifier(config)
    worker = worker or worker_name()
    report = ClassifyReport(model_version=model.model_version)
    only = list(product_ids(store, [product]).values()) if product else None
    if reclassify:
        with store.transaction() as session:
            report.requeued = requeue_older_models(session, model.model_version, only)
    report.rescored_jobs = rescore_stale_jobs(store, config, model)
    with store.sessions() as session:
        tuning = ProductTuning.load(session, config, model)  # products' learnt layers and taxonomy hashes
    jobs = _jobs_by_product_id(store, config)
    while limit is None or report.classified + report.skipped_language < limit:
        if should_stop and should_stop():
            break
        take = batch_size if limit is None else min(batch_size, limit - report.classified - report.skipped_language)
        with store.transaction() as session:
            claimed = claim_pending(session, worker, take, lease_s=lease_s, product_ids=only)
        if not claimed:
            break
        if before_batch:
            before_batch()  # e.g. resize torch's threads to this worker's share of the machine
        rows = tuning.apply(model, _classify_batch(model, claimed, jobs, tuning), claimed)
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


def _classify_batch(model: Classifier, posts: list[ClaimedPost], jobs: dict[int, list[Any]],
                    tuning: Any = None) -> list[ClassificationRow]:
    rows: list[ClassificationRow] = []
    by_product: dict[int, list[ClaimedPost]] = {}
    for post in posts:
        by_product.setdefault(post.product_id, []).append(post)
    for product_id, group in by_product.items():
        predictions = model.predict([p.text for p in group], jobs.get(product_id, []),
                                    titles=[p.title for p in group], ratings=[p.rating for p in group],
                                    languages=[p.language for p in group],
                                    **(tuning.predict_kwargs(product_id) if tuning is not None else {}))
        for post, pred in zip(group, predictions, strict=True):
            rows.append(ClassificationRow(
                post_id=post.id, model_version=pred.model_version, sentiment=pred.sentiment,
                sentiment_score=float(pred.sentiment_score), need_type=pred.need_type,
                need_score=float(pred.need_score), unmet_need=bool(pred.unmet_need),
                jobs=[{"job": j.job, "score": round(float(j.score), 4), "evidence": j.evidence} for j in pred.jobs],
                evidence=pred.evidence, embedding=pred.embedding.astype("float32").tobytes(),
                skipped=not pred.classified, step=pred.step, step_score=pred.step_score,
                sentences=pred.sentence_sentiments() if pred.classified else None,
                mixed=bool(pred.mixed) if pred.classified else None,
            ))
    return rows


# ---------------------------------------------------------------- report


def make_report(store: Store, config: Config, products: Sequence[str] | None, since: datetime, until: datetime,
                fmt: str, out_path: Path, *, email: bool = False, as_of: datetime | None = None) -> Path:
    """Build a comparison report from SQL aggregates, write it, record it, and optionally email it.

    ``as_of``: the posts as they stood at that moment (each post's version then; posts first seen later left
    out), read from the posts rather than the rollups (``build_report(as_of=...)``).

    With ``email`` the mail (headline, top issues with quotes, where we lose, inline PNG charts, the full
    HTML attached) goes to the report's recipients now; a send that fails raises :class:`JobError`
    naming the SMTP server (the delivery stays queued and is retried like alerts).
    """
    from store.models import Report
    from voxpop.report import ReportError, build_report
    from voxpop.report.render import write_report

    if products:
        product_ids(store, list(products))  # a clear error for unknown slugs
    jobs = {p.slug: list(p.jobs) for p in config.products}
    with store.sessions() as session:
        try:
            # A product's own steps of the job map ([[products.steps]]) when the config has them.
            steps = {p.slug: list(getattr(p, "steps", ()) or ()) for p in config.products}
            data = build_report(session, list(products) if products else None, since, until, jobs_by_product=jobs,
                                steps_by_product=steps, as_of=as_of)
        except ReportError as exc:
            raise JobError(str(exc)) from None
    data["meta"]["dashboard_url"] = config.ui.base_url  # issue links in the themes section (issue 27)
    data["releases"] = release_sections(store, config, data["meta"].get("own"), until)
    path = write_report(data, fmt, out_path)
    summary: dict[str, Any] = {"summary": data.get("summary")}
    if email:
        from voxpop.report.mail import report_mail

        attachments = [path]
        if fmt != "html":  # the mail always carries the full HTML report
            attachments.append(write_report(data, "html", path.with_name(path.stem + ".html")))
        summary["mail"] = report_mail(data, attachments)
    with store.transaction() as session:
        row = Report(products=list(products or []), period_start=since, period_end=until, format=fmt,
                     path=str(path), created_at=utcnow(), summary=summary)
        session.add(row)
        session.flush()
        report_id = row.id
    if email:
        from alerts.deliver import report_recipients, send_report

        if not report_recipients(config, [str(p) for p in products or []]):
            raise JobError(f"report written to {path}, but no recipients to email it to: set [[reports]] "
                           "recipients or [alerts] recipients")
        sent = send_report(store, config, report_id, data, path)
        if sent.retrying or sent.failed or sent.errors:
            raise JobError(f"report written to {path}, but email delivery failed ({sent.failed} failed for good, "
                           f"{sent.retrying} queued for retry by `voxpop alert`): {'; '.join(sent.errors[:3])}")
    return path


# ---------------------------------------------------------------- status


def status(store: Store, config: Config) -> dict[str, Any]:
    """Backlogs, the last crawl of each source, undelivered alerts and recent job runs."""
    from spiders.runner import close_abandoned_runs
    from store.models import Alert, Delivery
    from voxpop.report.coverage import reported_total

    with store.transaction() as session:  # a run whose crawl died with the database is shown as failed
        close_abandoned_runs(session, older_than_s=max([s.timeout_s for p in config.products for s in p.sources],
                                                       default=config.crawl.timeout_s) + 120)
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
                "dropped": run.dropped, "reported_total": reported_total((run.stats or {}).get("reported_total")),
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
        # The crawl-health verdicts that need a look: a failed or empty last crawl is named at the top.
        unhealthy = {key: f"{run['status']}: {run['reason'] or 'no reason recorded'}"
                     for key, run in last_runs.items() if run["status"] in ("failed", "partial")}
        return {
            "database": store.engine.url.render_as_string(hide_password=True),
            "crawl_problems": unhealthy,
            "posts": backlog(session), "counts": counts, "crawls": last_runs,
            "deliveries": deliveries, "failed_deliveries": failed, "jobs": job_runs,
            "undelivered": sum(n for st, n in deliveries.items() if st != "sent"),
            "crawl_backlog": crawl_backlog(session, config),
            "rollups": rollup_state(session),
        }


def configured_product(config: Config, slug: str) -> ProductSpec | None:
    """The product's config, or None for products known only to the store (e.g. imported)."""
    try:
        return config.product(slug)
    except ConfigError:
        return None


def plain(value: Any) -> Any:
    """A JSON-safe copy of a job result (dataclasses via ``as_dict``)."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    return json.loads(json.dumps(value, default=str))


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
                results[spec.slug] = plain(run_detect(store, config, spec.slug))
            except Exception as exc:  # noqa: BLE001 - one product's failure must not stop the others
                log.exception("detect failed for %s", spec.slug)
                errors[spec.slug] = f"{exc.__class__.__name__}: {exc}"
        themes = update_themes_after_detect(store)
    if errors:
        raise JobError("detect failed for " + "; ".join(f"{slug}: {err}" for slug, err in errors.items()))
    return {"products": results, "themes": themes}


def update_themes_after_detect(store: Store) -> dict[str, Any]:
    """Themes across products (issue 27), recomputed once after every product's detection."""
    from alerts.theme_store import run_themes

    try:
        return run_themes(store).as_dict()
    except Exception as exc:  # noqa: BLE001 - themes are a view over issues: detection's result stands
        log.exception("theme pass failed")
        return {"error": f"{exc.__class__.__name__}: {exc}"}


def detect_product(store: Store, config: Config, product: str, *, as_of: datetime | None = None) -> dict[str, Any]:
    """Run issue detection for one product under the same leader lock as the scheduler's detect job."""
    from store.locks import leader_lock

    with leader_lock(store, "detect") as held:
        if not held:
            return {"skipped": "another process holds the detect lock"}
        from alerts.issues import run_detect

        report = plain(run_detect(store, config, product, as_of=as_of))
        update_themes_after_detect(store)
        return {"report": report}


def backtest(store: Store, config: Config, product: str, first: datetime, last: datetime) -> Any:
    """Replay a product's history day by day: the alerts that would have fired (nothing is stored or sent)."""
    from alerts.issues import backtest as run_backtest

    return run_backtest(store, config, product, first, last)


def release_sections(store: Store, config: Config | None, own: str | None, until: datetime) -> list[dict[str, Any]]:
    """The release watch of our product as of ``until`` for the report's "Since version v" section (empty
    when there is no own product or no watched release)."""
    if not own:
        return []
    from alerts.release_store import release_watch

    found = release_watch(store, config, own, now=until)
    return [found] if found["releases"] else []


def releases(store: Store, config: Config | None, product: str, version: str | None = None) -> dict[str, Any]:
    """The release watch of a product: per release, the topics new or grown since the releases before."""
    from alerts.release_store import release_watch

    return release_watch(store, config, product, version=version)


def list_issues(store: Store, product: str) -> list[dict[str, Any]]:
    """A product's issues with state, size and daily counts."""
    from alerts.issues import list_issues as issues_of

    return list(issues_of(store, product))


def pending_count(store: Store) -> int:
    """Posts waiting for the classifier."""
    with store.sessions() as session:
        return int(backlog(session).get("pending", 0))


def classify_file(config: Config, input_path: Path, output_path: Path, jobs_path: Path | None,
                  progress: Progress | None = None) -> Any:
    """File mode of ``voxpop classify``: JSONL in, predictions out (a bad jobs file fails before the model loads)."""
    from classify.filemode import classify_file as run_file
    from classify.filemode import load_taxonomy

    if jobs_path is not None:
        load_taxonomy(jobs_path)
    return run_file(input_path, output_path, jobs_path, get_classifier(config), progress=progress)


def import_file(store: Store, config: Config, product: str, input_path: Path, *, source: str = "import",
                progress: Progress | None = None, fmt: str = "auto") -> Any:
    """``voxpop import``: a JSONL or CSV file into ``product`` (created if new) through the one post validator."""
    from store.io import ImportFormatError, import_posts

    spec = configured_product(config, product)
    try:
        with store.transaction() as session:
            pid = ensure_product(session, product, spec.name if spec else product, spec.own if spec else False).id
            return import_posts(session, pid, input_path, source=source, progress=progress, fmt=fmt)
    except (ImportFormatError, UnicodeDecodeError) as exc:
        raise JobError(str(exc)) from None


def export_posts(store: Store, product: str, fmt: str, handle: Any, *, revisions: bool = False) -> int:
    """``voxpop export``: a product's posts with classifications and issue ids, as JSONL or CSV; returns the count.

    ``revisions``: each post also carries ``revisions``, its earlier versions (``store.revisions``)."""
    from store.io import iter_export_rows, segment_names, write_export
    from store.revisions import with_revisions

    pid = product_ids(store, [product])[product]
    with store.sessions() as session:
        segments = segment_names(session, pid) if fmt == "csv" else None
        rows = iter_export_rows(session, pid)
        if revisions:
            rows = with_revisions(session, rows)
        return int(write_export(rows, fmt, handle, segments, ("revisions",) if revisions else ()))


def deliver_alerts(store: Store, config: Config, *, digest: bool | None = False) -> dict[str, Any]:
    """Deliver pending alerts as the only alert leader (never two senders at once).

    ``digest=None`` lets the config decide (``[alerts].digest``), as ``voxpop alert`` does.
    """
    from store.locks import leader_lock

    with leader_lock(store, "alert") as held:
        if not held:
            return {"skipped": "another process holds the alert lock"}
        from alerts.deliver import deliver_pending
        from alerts.release_store import release_watch

        def watch(slug: str, now: datetime) -> dict[str, Any]:
            return release_watch(store, config, slug, now=now)

        return {"delivered": plain(deliver_pending(store, config, digest=digest, release_watch=watch))}


def shared_frontier(config: Config) -> bool:
    return bool(config.crawl.redis_url)


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
