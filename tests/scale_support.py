"""Helpers of the scale-out tests: services, a paged review site, worker processes.

The config writer, the process starter and the post inserter are bench/support.py's (one copy for both).
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.support import insert_posts, voxpop, write_config  # noqa: F401  (re-exported for the tests)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def services_required() -> bool:
    return os.environ.get("VOXPOP_REQUIRE_SERVICES") == "1"


def redis_url() -> str | None:
    """The Redis to test against, or None (skip) when services are not required and none is given."""
    url = os.environ.get("VOXPOP_TEST_REDIS_URL") or (REDIS_TEST_URL if services_required() else None)
    if url is None:
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3)
    try:
        client.ping()
    except Exception:
        if services_required():
            raise
        return None
    finally:
        client.close()
    return url


def fresh_slug(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def appstore_site(root: Path, app_id: str, countries: list[str], pages: int, per_page: int = 3,
                  delay_s: float | None = None) -> Path:
    """A local App Store feed: ``pages`` pages per country, each with ``per_page`` reviews."""
    from tests.review_sites import appstore_entry, appstore_page
    from voxpop.demo.site import write_routes

    routes: dict[str, Any] = {}
    n = 0
    for country in countries:
        for page in range(1, pages + 1):
            entries = []
            for _ in range(per_page):
                entries.append(appstore_entry(n, app_id, country))
                n += 1
            body = appstore_page(entries, app_id, country, page, pages)
            target = f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"
            routes[target] = {"__response__": True, "json": body, **({"delay_s": delay_s} if delay_s else {})}
    return write_routes(root, routes, robots="User-agent: *\nAllow: /\n")


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    """Wait for a worker; return (exit code, stdout, stderr). Kills it if it overruns ``timeout``."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"worker still running after {timeout:.0f}s; its log ends:\n{err[-3000:]}") from None
    return proc.returncode, out, err


def finish_all(procs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str, str]]:
    """Wait for several workers at once, draining all their pipes together.

    Finishing them one after another would leave the others' pipes undrained: a worker blocked on a
    full stderr pipe holds its claimed batch, and the worker being waited on waits for that batch.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(procs)) as pool:
        return list(pool.map(lambda proc: finish(proc, timeout), procs))


class LogReader:
    """Collects a process's stderr lines on a thread so the test can wait for one."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert proc.stderr is not None
        self._thread = threading.Thread(target=self._pump, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no log line with {text!r} in {timeout}s:\n" + "".join(self.lines[-40:]))

    def drain(self) -> str:
        self._thread.join(10)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return "".join(self.lines)
