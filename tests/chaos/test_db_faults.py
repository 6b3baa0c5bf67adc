"""Chaos: the database is locked or goes away; one clear line, no run left 'running', nothing stored half-way."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from store.db import Store, with_retry
from store.models import CrawlRun, Post
from tests.chaos.faultproxy import FaultProxy
from tests.conftest import PROJECT_ROOT
from tests.conftest_sites import CrawlHelper, make_site, respond
from tests.test_crawl_reviews import product_page

pytestmark = pytest.mark.chaos
HTML = {"Content-Type": "text/html"}
PAGES = 6  # two reviews each


def _site(tmp_path: Path, site_server: Any, delay_s: float = 0.0) -> Any:
    routes = {f"/p/{i}": respond(product_page(i, 2), raw=True, headers=HTML, delay_s=delay_s or None)
              for i in range(1, PAGES + 1)}
    return site_server(make_site(tmp_path / "site", routes))


def _config(tmp_path: Path, database_url: str, base_url: str) -> Path:
    path = tmp_path / "voxpop.toml"
    urls = ", ".join(f'"/p/{i}"' for i in range(1, PAGES + 1))
    path.write_text(f'database_url = "{database_url}"\n\n[[products]]\nslug = "p"\n\n  [[products.sources]]\n'
                    f'  name = "shop"\n  spider = "jsonld"\n  timeout_s = 120\n'
                    f'  params = {{ base_url = "{base_url}", urls = [{urls}] }}\n', encoding="utf-8")
    return path


def _voxpop(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "voxpop.cli", "--config", str(config), *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "VOXPOP_DATABASE_URL": "", "HF_HUB_OFFLINE": "1", **env})


def _hold_lock(path: Path, release: threading.Event) -> threading.Thread:
    """Hold SQLite's write lock on ``path`` until ``release`` is set."""
    ready = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        ready.set()
        release.wait(120)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(10)
    return thread


def _runs(url: str) -> list[CrawlRun]:
    store = Store(url)
    try:
        with store.sessions() as session:
            return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    finally:
        store.dispose()


def _posts(url: str) -> int:
    store = Store(url)
    try:
        with store.sessions() as session:
            return session.scalar(select(func.count()).select_from(Post)) or 0
    finally:
        store.dispose()


def test_locked_sqlite_gives_one_clear_line_and_a_passing_lock_is_waited_out(tmp_path: Path,
                                                                             site_server: Any) -> None:
    db = tmp_path / "v.db"
    site = _site(tmp_path, site_server)
    config = _config(tmp_path, f"sqlite:///{db}", site.base_url)
    assert _voxpop(config, "init").returncode == 0
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "1", "text": "Sync fails every night"}\n', encoding="utf-8")
    release = threading.Event()
    holder = _hold_lock(db, release)
    result = _voxpop(config, "import", "--input", str(posts), "--product", "p", VOXPOP_SQLITE_BUSY_TIMEOUT_S="0.5")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line != "importing"]  # progress label
    assert len(lines) == 1 and lines[0].startswith("voxpop: error:") and "database is locked" in lines[0], lines
    assert _posts(f"sqlite:///{db}") == 0

    # A lock that passes: the crawl run is opened with retries and backoff, then the crawl goes on.
    log = tmp_path / "crawl.err"
    with log.open("w") as err:
        command = [sys.executable, "-m", "voxpop.cli", "--config", str(config), "crawl", "--product", "p"]
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "VOXPOP_DATABASE_URL": "", "VOXPOP_SQLITE_BUSY_TIMEOUT_S": "0.5"})
        deadline = time.monotonic() + 120
        while "retry 1 of" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        release.set()
        proc.communicate(timeout=300)
    holder.join()
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert "starting a crawl run: database is locked" in log.read_text()
    assert _posts(f"sqlite:///{db}") == 2 * PAGES
    assert [r.status for r in _runs(f"sqlite:///{db}")] == ["ok"]


def test_a_lock_that_passes_is_waited_out_with_backoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    Store(url).dispose()
    monkeypatch.setenv("VOXPOP_SQLITE_BUSY_TIMEOUT_S", "0.2")
    store = Store(url)
    attempts: list[float] = []

    def write() -> int:
        attempts.append(time.monotonic())
        with store.transaction() as session:
            session.add(CrawlRun(spider="x", product_slug="p", status="ok", stats={}, started_at=datetime.now(UTC)))
        return len(attempts)

    release = threading.Event()
    holder = _hold_lock(tmp_path / "v.db", release)
    threading.Timer(1.5, release.set).start()
    assert with_retry(write, what="test write", attempts=6, base_s=0.3) > 1
    holder.join()
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert all(later >= earlier for earlier, later in zip(gaps, gaps[1:], strict=False))  # backing off
    store.dispose()


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Any:
    parsed = make_url(postgres_url)
    with FaultProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
        yield proxy, parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), postgres_url


def test_postgres_lost_mid_crawl_and_back_loses_nothing(tmp_path: Path, site_server: Any,
                                                       proxied_postgres: Any) -> None:
    proxy, url, _direct = proxied_postgres
    Store(url).dispose()
    site = _site(tmp_path, site_server, delay_s=0.6)
    crawl = CrawlHelper(url)
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(crawl(
        "jsonld", site.base_url, urls=",".join(f"/p/{i}" for i in range(1, PAGES + 1)),
        settings={"VOXPOP_BATCH_SIZE": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}, timeout_s=120)))
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _posts(url) < 2:
        time.sleep(0.1)
    proxy.cut()
    time.sleep(2.5)
    proxy.restore()
    worker.join(180)
    (result,) = outcome
    assert result.status == "ok", (result.reason, result.stats.get("errors"))
    assert _posts(url) == 2 * PAGES  # every post once (upserts on natural keys: a retry never duplicates)
    # A commit whose answer was lost with the connection is retried and then finds its rows: unchanged.
    assert result.stored + result.stats["unchanged"] == 2 * PAGES
    assert [r.status for r in _runs(url)] == ["ok"]


def test_postgres_gone_for_good_ends_with_one_line_and_no_running_run(tmp_path: Path, site_server: Any,
                                                                      proxied_postgres: Any) -> None:
    proxy, url, direct = proxied_postgres
    site = _site(tmp_path, site_server, delay_s=0.5)
    config = _config(tmp_path, url, site.base_url)
    assert _voxpop(config, "init").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "voxpop.cli", "--config", str(config), "crawl", "--product", "p"],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "VOXPOP_DATABASE_URL": "", "VOXPOP_DB_RETRY_ATTEMPTS": "2"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # the crawl has opened its run and fetches pages
        if any(r.status == "running" and r.source_id for r in _runs(direct)):
            break
        time.sleep(0.1)
    proxy.cut()
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-3000:]
    lines = err.strip().splitlines()
    assert lines[-1].startswith("voxpop: error:") and "database unavailable" in lines[-1], err[-2000:]
    assert "Traceback" not in err
    proxy.restore()

    status = _voxpop(config, "status", "--json")
    assert status.returncode == 0, status.stderr
    (run,) = json.loads(status.stdout)["crawls"].values()
    assert run["status"] == "failed" and "abandoned" in run["reason"], run
    assert _posts(url) == 0  # the lost batch was not stored half-way ...

    again = _voxpop(config, "crawl", "--product", "p", "--json")  # ... and the next crawl fetches it all again
    assert again.returncode == 0, again.stderr[-2000:]
    assert _posts(url) == 2 * PAGES
    assert [r.status for r in _runs(url)] == ["failed", "ok"]
