"""Run one crawl in its own process with a timeout and return what its crawl run recorded.

The Twisted reactor cannot be restarted, so every crawl is ``python -m scrapy crawl ...`` in a
subprocess (cwd = project root, ``VOXPOP_DATABASE_URL`` in its environment). The runner creates the
:class:`store.models.CrawlRun` first and hands its id to the crawl, so it can always read the figures
back, and records a failure itself when the process dies or times out before finishing the run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMMON_ARGS = ("product", "source", "base_url", "since")
ABANDON_GRACE_S = 120.0  # a run still 'running' this long after its timeout belongs to a dead crawl
CLOSE_ATTEMPTS = int(os.environ.get("VOXPOP_DB_RETRY_ATTEMPTS") or 7)  # 0.5 + 1 + ... + 8 s: about half a minute


@dataclass
class CrawlOutcome:
    """The figures of one finished crawl run."""

    run_id: int | None
    product: str
    source: str
    spider: str
    status: str
    reason: str | None = None
    stored: int = 0
    updated: int = 0
    dropped: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    returncode: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The outcome as a plain dict (for ``--json`` output and job results)."""
        return asdict(self)


def crawl_command(spider: str, product_slug: str, source_name: str, params: Mapping[str, Any],
                  base_url: str | None = None, since: str | None = None,
                  extra_settings: Mapping[str, Any] | None = None) -> list[str]:
    """The ``python -m scrapy crawl`` command line of one crawl."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"product={product_slug}",
           "-a", f"source={source_name}"]
    params = dict(params)
    chosen_base = base_url or params.pop("base_url", None)
    params.pop("base_url", None)
    if chosen_base:
        cmd += ["-a", f"base_url={chosen_base}"]
    if since:
        cmd += ["-a", f"since={since}"]
    for key, value in params.items():
        if key in ("product", "source", "since"):
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        cmd += ["-a", f"{key}={value}"]
    for key, value in (extra_settings or {}).items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def _tail(text: str, limit: int = 600) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-6:])[-limit:]


def run_crawl(product_slug: str, source_name: str, spider: str, params: Mapping[str, Any] | None,
              database_url: str, timeout_s: float, base_url: str | None = None, since: str | None = None,
              extra_settings: Mapping[str, Any] | None = None) -> CrawlOutcome:
    """Run one crawl of one source in a subprocess and return its recorded figures.

    Args:
        product_slug: the product the posts belong to.
        source_name: the configured source name (the store keeps its high-water mark).
        spider: the spider name (``appstore``, ``discourse``, ...).
        params: the spider's own arguments (``app_id``, ``countries``, ...; ``base_url`` allowed).
        database_url: where the crawl stores (passed as ``VOXPOP_DATABASE_URL``).
        timeout_s: the crawl is killed after this long and recorded as failed.
        base_url: overrides the real service (tests, demo).
        since: ``YYYY-MM-DD`` start of a first crawl's backfill.
        extra_settings: Scrapy settings passed with ``-s``.
    """
    from store.db import Store, StoreError, describe_db_fault, is_db_fault, with_retry
    from store.models import CrawlRun
    from store.repo import ensure_product, finish_crawl_run, get_product, start_crawl_run

    started = time.monotonic()
    store = Store(database_url)
    try:
        def open_run() -> int:
            with store.transaction() as session:
                product = get_product(session, product_slug) or ensure_product(session, product_slug)
                close_abandoned_runs(session, older_than_s=timeout_s + ABANDON_GRACE_S, product_slug=product.slug,
                                     spider=spider)
                run = start_crawl_run(session, spider, product.slug, None)
                run.stats = {"runner": runner_token()}  # who closes it; replaced by the crawl's figures
                return run.id

        run_id = with_retry(open_run, what="starting a crawl run")
        settings = {"VOXPOP_CRAWL_RUN_ID": run_id, "LOG_LEVEL": "INFO", **dict(extra_settings or {})}
        cmd = crawl_command(spider, product_slug, source_name, params or {}, base_url, since, settings)
        env = {**os.environ, "VOXPOP_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
        env.pop("SCRAPY_SETTINGS_MODULE", None)
        returncode: int | None
        failure: str | None = None
        proc = subprocess.Popen(cmd, cwd=str(PROJECT_ROOT), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            _out, err = proc.communicate(timeout=timeout_s)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            _stop(proc)
            _out, err = proc.communicate()
            returncode = proc.returncode
            failure = f"timed out after {timeout_s:g} s"

        def close_run() -> CrawlOutcome:
            with store.transaction() as session:
                run = session.get(CrawlRun, run_id)
                assert run is not None
                if run.status == "running":
                    reason = failure or f"crawl process exited with code {returncode}: {_tail(err or '')}"
                    finish_crawl_run(session, run_id, status="failed", reason=reason, stored=run.stored,
                                     updated=run.updated, dropped=run.dropped,
                                     stats={**(run.stats or {}), "duration_s": round(time.monotonic() - started, 3)})
                    session.flush()
                elif failure:
                    run.status, run.reason = "failed", failure
                session.refresh(run)
                return CrawlOutcome(run_id=run_id, product=product_slug, source=source_name, spider=spider,
                                    status=run.status, reason=run.reason, stored=run.stored, updated=run.updated,
                                    dropped=run.dropped, stats=dict(run.stats or {}),
                                    duration_s=round(time.monotonic() - started, 3), returncode=returncode)

        try:  # closing the run is safe to repeat: wait for a database that went away to come back
            return with_retry(close_run, what=f"closing crawl run {run_id}", attempts=CLOSE_ATTEMPTS)
        except Exception as exc:
            if is_db_fault(exc):
                raise StoreError(f"crawl run {run_id} of {product_slug}/{source_name} could not be recorded: "
                                 f"{describe_db_fault(exc)} (the next crawl of it closes the run as failed)") from None
            raise
    finally:
        store.dispose()


def runner_token() -> str:
    """``host:pid`` of this process, kept on the runs it starts until they are closed."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _runner_gone(token: Any) -> bool:
    host, _, pid = str(token or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's run: only its age tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def close_abandoned_runs(session: Any, *, older_than_s: float = 0, product_slug: str | None = None,
                         spider: str | None = None) -> int:
    """Close as failed the runs still ``running`` whose runner is gone, or older than any crawl could last.

    A runner that lost the database could not record the end; nothing else would close its run. A
    run of this machine is closed as soon as its runner process is gone; one of another machine once
    it is ``older_than_s`` old (0: never by age).
    """
    from datetime import timedelta

    from sqlalchemy import select

    from store.models import CrawlRun
    from store.repo import utcnow

    query = select(CrawlRun).where(CrawlRun.status == "running")
    if product_slug:
        query = query.where(CrawlRun.product_slug == product_slug)
    if spider:
        query = query.where(CrawlRun.spider == spider)
    now = utcnow()
    closed = 0
    for run in session.scalars(query):
        too_old = older_than_s > 0 and run.started_at < now - timedelta(seconds=older_than_s)
        if _runner_gone((run.stats or {}).get("runner")) or too_old:
            run.status, run.finished_at = "failed", now
            run.reason = "abandoned: the crawl ended without recording its end (process killed or database lost)"
            closed += 1
    return closed


def _stop(proc: subprocess.Popen[str], grace_s: float = 3.0) -> None:
    """Stop a crawl: SIGTERM (Scrapy closes the spider and records the run), again (forced), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if wait is None:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
