"""Run one crawl in its own process with a timeout and return what its crawl run recorded.

The Twisted reactor cannot be restarted, so every crawl is ``python -m scrapy crawl ...`` in a
subprocess. The child is self-contained: it is told its settings module (``SCRAPY_SETTINGS_MODULE``,
so no ``scrapy.cfg`` is needed and a wheel install crawls from any folder), runs in the folder that
holds our packages (so a user's own ``spiders/`` cannot shadow ours), and gets the resolved config
from the caller: the database URL (made absolute) and Redis URL in its environment, the ``[crawl]``
values as ``-s`` settings. It reads no config file itself. The runner creates the
:class:`store.models.CrawlRun` first and hands its id to the crawl, so it can always read the figures
back, and records a failure itself when the process dies or times out before finishing the run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from voxpop.config import CrawlSpec

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder holding `spiders`: a checkout or site-packages
PROJECT_ROOT = PACKAGE_ROOT  # the crawl child's working folder
SETTINGS_MODULE = "spiders.settings"
USER_AGENT = "voxpop/0.1 (+{contact_url})"
LineHandler = Callable[[str], None]
# The child's error lines: a traceback's last line, a Scrapy log line at ERROR/CRITICAL, a usage error.
_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Exit)\b")
_LOG_ERROR = re.compile(r"\] (ERROR|CRITICAL): ")
_ERROR_LINE = re.compile(f"{_EXCEPTION.pattern}|{_LOG_ERROR.pattern}|^\\w+: error: ")
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


def crawl_settings(crawl: CrawlSpec) -> dict[str, Any]:
    """The resolved ``[crawl]`` config as Scrapy settings for the child (``-s NAME=VALUE``)."""
    return {"VOXPOP_CONTACT_URL": crawl.contact_url, "USER_AGENT": USER_AGENT.format(contact_url=crawl.contact_url),
            "VOXPOP_BACKFILL_DAYS": crawl.backfill_days, "VOXPOP_SINCE": crawl.since.isoformat() if crawl.since else ""}


def absolute_database_url(url: str, base: Path | None = None) -> str:
    """A SQLite URL with a relative path made absolute against ``base`` (default: this process's folder).

    The child runs in another folder; it must open the same file the caller means.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:") or Path(parsed.database).is_absolute():
        return url
    return parsed.set(database=str((base or Path.cwd()) / parsed.database)).render_as_string(hide_password=False)


def crawl_environment(database_url: str, crawl: CrawlSpec | None,
                      inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: our settings module, the database URL and (from ``crawl``) the Redis URL."""
    env = dict(os.environ if inherited is None else inherited)
    env.update({"SCRAPY_SETTINGS_MODULE": SETTINGS_MODULE, "VOXPOP_DATABASE_URL": absolute_database_url(database_url),
                "PYTHONUNBUFFERED": "1"})
    env.pop("SCRAPY_PROJECT", None)
    if crawl is not None:  # the config decides; without one the caller's environment does
        if crawl.redis_url:
            env["VOXPOP_REDIS_URL"] = crawl.redis_url
        else:
            env.pop("VOXPOP_REDIS_URL", None)
    return env


def last_error_line(lines: list[str] | deque[str], limit: int = 400) -> str:
    """The child's last error line (a traceback's last line, an ERROR log line), else its last line.

    When the last error is a chain (``During handling of the above exception...``), the exception it
    was raised during is named too: ``RuntimeError: ... (after redis...ConnectionError: ...)``.
    """
    texts = [line.strip() for line in lines if line.strip() and not line.strip().startswith(("'", "{"))]
    for i in range(len(texts) - 1, -1, -1):
        if not _ERROR_LINE.search(texts[i]):
            continue
        start = max((j for j in range(i) if _LOG_ERROR.search(texts[j])), default=-1)
        chain = [t for t in texts[start + 1:i] if _EXCEPTION.match(t)]
        cause = f" (after {chain[-1][:limit // 2]})" if chain and texts[i] != chain[-1] else ""
        return texts[i][:limit] + cause
    return texts[-1][:limit] if texts else "no output"


_PAGES = re.compile(r"Crawled (\d+) pages? \(at \d+ pages?/min\), scraped (\d+) items?")
_STORED = re.compile(r"voxpop progress: (\d+) stored, (\d+) updated, (\d+) unchanged, (\d+) dropped")
_FINISHED = re.compile(r"voxpop: run \d+ (\w+): (\d+) stored, (\d+) updated, (\d+) unchanged, (\d+) dropped")


def progress_of(line: str) -> dict[str, int] | None:
    """The figures in one line of the child's log (Scrapy's page count, our batch counts), or None."""
    if match := _PAGES.search(line):
        return {"pages": int(match[1]), "items": int(match[2])}
    if match := _STORED.search(line):
        return {"stored": int(match[1]), "updated": int(match[2]), "unchanged": int(match[3]),
                "dropped": int(match[4])}
    if match := _FINISHED.search(line):
        return {"stored": int(match[2]), "updated": int(match[3]), "unchanged": int(match[4]),
                "dropped": int(match[5])}
    return None


def _pump(stream: Any, keep: deque[str], on_line: LineHandler | None) -> None:
    for line in stream:
        keep.append(line.rstrip("\n"))
        if on_line is not None:
            try:
                on_line(line.rstrip("\n"))
            except Exception:  # noqa: BLE001 - a progress display must never break the crawl
                on_line = None


def run_crawl(product_slug: str, source_name: str, spider: str, params: Mapping[str, Any] | None,
              database_url: str, timeout_s: float, base_url: str | None = None, since: str | None = None,
              extra_settings: Mapping[str, Any] | None = None, crawl: CrawlSpec | None = None,
              on_line: LineHandler | None = None) -> CrawlOutcome:
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
        crawl: the resolved ``[crawl]`` config (contact URL, backfill, Redis); None keeps the defaults
            and the caller's ``VOXPOP_REDIS_URL``.
        on_line: called with each line the child logs, as it comes (progress display).
    """
    from store.db import Store, StoreError, describe_db_fault, is_db_fault, with_retry
    from store.models import CrawlRun
    from store.owed import owe, owed, pay
    from store.repo import ensure_product, finish_crawl_run, get_product, start_crawl_run

    started = time.monotonic()
    if owed(database_url):
        pay(database_url)  # runs this process could not close earlier: close them before a new one opens
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
        settings = {**(crawl_settings(crawl) if crawl is not None else {}), "VOXPOP_CRAWL_RUN_ID": run_id,
                    "LOG_LEVEL": "INFO", **dict(extra_settings or {})}
        cmd = crawl_command(spider, product_slug, source_name, params or {}, base_url, since, settings)
        returncode: int | None
        failure: str | None = None
        tail: deque[str] = deque(maxlen=400)
        proc = subprocess.Popen(cmd, cwd=str(PACKAGE_ROOT), env=crawl_environment(database_url, crawl),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        reader = threading.Thread(target=_pump, args=(proc.stderr, tail, on_line), daemon=True)
        reader.start()
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            returncode = proc.wait()
            failure = f"timed out after {timeout_s:g} s"
        reader.join(10)

        def close_run() -> CrawlOutcome:
            with store.transaction() as session:
                run = session.get(CrawlRun, run_id)
                assert run is not None
                if run.status == "running":
                    reason = failure or f"crawl process exited with code {returncode}: {last_error_line(tail)}"
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
                fault = describe_db_fault(exc)
                # This process owns the run: it closes it itself as soon as the database is back.
                owe(f"crawl run {run_id}", database_url, _close_as_lost(run_id, failure, returncode, fault))
                raise StoreError(f"crawl run {run_id} of {product_slug}/{source_name} could not be recorded: "
                                 f"{fault} (the run is closed as failed once the database is back)") from None
            raise
    finally:
        store.dispose()


def _close_as_lost(run_id: int, failure: str | None, returncode: int | None, fault: str) -> Any:
    """The owed close of a run whose end could not be recorded: failed, saying the storage was lost."""
    def close(session: Any) -> None:
        from store.models import CrawlRun
        from store.repo import utcnow

        run = session.get(CrawlRun, run_id)
        if run is not None and run.status == "running":
            ended = failure or f"crawl process exited with code {returncode}"
            run.status, run.finished_at = "failed", utcnow()
            run.reason = (f"storage lost during the crawl ({ended}; {fault.split(';')[0]}); "
                          "closed by its runner once the database was back")
    return close


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
