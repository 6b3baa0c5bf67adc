"""Load held: the dashboard under concurrent clients while a crawl and classify write to the same store.

Starts, all on loopback: the local App Store site (``voxpop.demo.site``, a delay per page so the crawl lasts),
``voxpop serve`` on the store, then ``voxpop crawl`` and ``voxpop classify`` against the same store while
``--clients`` threads request a mix of pages for ``--seconds`` (overview, issues, one issue, post search, the
JSON API). Prints errors (any answer but 200, or no answer), lost posts (reviews the site served that the
store does not hold after the crawl, plus seeded posts gone) and the p50/p95 of the dashboard beside the goal.
Usage::

    nice -n 10 .venv/bin/python bench/load.py                          # SQLite in a temporary folder, 60 s
    .venv/bin/python bench/load.py --seconds 30 --database-url postgresql://postgres@127.0.0.1:5432/voxpop_load

Each run uses a product of its own (``load<timestamp>``), so a PostgreSQL database can be reused.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard import free_port  # noqa: E402
from bench.support import appstore_site, insert_posts, voxpop  # noqa: E402

GOAL_P95_S = 1.0
APP_ID = "555"


def seed(url: str, product: str, posts: int) -> int:
    """``posts`` classified posts of ``product`` and one issue over some of them; returns the issue id."""
    import numpy as np
    from sqlalchemy import select, update

    from store.db import Store
    from store.models import Classification, Issue, IssuePost, Post, Product

    store = Store(url)
    try:
        insert_posts(store, product, posts)
        now = datetime.now(UTC)
        with store.transaction() as session:
            pid = session.scalar(select(Product.id).where(Product.slug == product))
            ids = list(session.scalars(select(Post.id).where(Post.product_id == pid).order_by(Post.id)))
            rng = np.random.default_rng(1)
            session.execute(update(Post).where(Post.product_id == pid).values(status="classified"))
            session.add_all([Classification(
                post_id=i, model_version="load", sentiment=("negative", "neutral", "positive")[k % 3],
                sentiment_score=0.9, need_type=("problem", "praise", "feature_request")[k % 3], need_score=0.8,
                unmet_need=k % 3 != 1, jobs=[], classified_at=now,
                embedding=rng.normal(size=16).astype(np.float32).tobytes()) for k, i in enumerate(ids)])
            issue = Issue(product_id=pid, label="export to pdf fails", keywords=["export", "pdf"], state="new",
                          need_type="problem", size=min(50, len(ids)), first_seen=now - timedelta(days=3),
                          last_seen=now, state_changed_at=now, representative_post_id=ids[0],
                          daily_counts={now.date().isoformat(): min(50, len(ids))}, stats={})
            session.add(issue)
            session.flush()
            session.add_all([IssuePost(issue_id=issue.id, post_id=i, similarity=0.9) for i in ids[:50]])
            return int(issue.id)
    finally:
        store.dispose()


def count_posts(url: str, product: str, source: str | None = None) -> int:
    from sqlalchemy import func, select

    from store.db import Store
    from store.models import Post, Product

    store = Store(url)
    try:
        with store.sessions() as session:
            query = select(func.count()).select_from(Post).join(Product, Product.id == Post.product_id).where(
                Product.slug == product)
            if source:
                query = query.where(Post.source == source)
            return int(session.scalar(query) or 0)
    finally:
        store.dispose()


def paths(product: str, issue_id: int) -> list[str]:
    """The request mix: overview, issues, one issue, search (words and filters), the JSON API."""
    return ["/", "/?days=30", "/issues", f"/issues/{issue_id}", f"/api/issues/{issue_id}",
            "/posts?" + urlencode({"q": "export", "product": product}),
            "/posts?" + urlencode({"product": product, "sentiment": "negative", "sort": "rating"}),
            "/api/posts?" + urlencode({"q": "sync", "product": product}), "/api/overview", "/api/status"]


class Clients:
    """``n`` threads, each on its own keep-alive connection, requesting ``mix`` in turn until ``stop``."""

    def __init__(self, port: int, mix: list[str], n: int) -> None:
        self.port, self.mix, self.n = port, mix, n
        self.times: list[float] = []
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run_one(self, k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        i = k
        while not self.stop.is_set():
            path = self.mix[i % len(self.mix)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                error = None if response.status == 200 else f"HTTP {response.status} {path.split('?')[0]}"
            except (OSError, http.client.HTTPException) as exc:
                error = f"{exc.__class__.__name__} {path.split('?')[0]}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            elapsed = time.perf_counter() - started
            with self.lock:
                self.times.append(elapsed)
                if error:
                    self.errors[error] += 1
        conn.close()

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=self.run_one, args=(k,), daemon=True) for k in range(self.n)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        self.stop.set()
        for t in threads:
            t.join(90)


def wait_healthy(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"voxpop serve exited with code {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("voxpop serve did not answer within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients run")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed-posts", type=int, default=3000, help="classified posts in the store at the start")
    parser.add_argument("--countries", default="us,gb,de,fr", help="storefronts of the local site (10 pages each)")
    parser.add_argument("--page-delay", type=float, default=1.0, help="the local site's delay per feed page (s)")
    args = parser.parse_args()

    product = f"load{int(time.time())}"
    with tempfile.TemporaryDirectory(prefix="voxpop-load-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'load.db'}"
        countries = [c.strip() for c in args.countries.split(",") if c.strip()]
        issue_id = seed(url, product, args.seed_posts)
        seeded = count_posts(url, product)
        site_root, served = appstore_site(Path(tmp) / "site", APP_ID, countries, pages=10, per_page=50,
                                          delay_s=args.page_delay)
        from voxpop.demo.site import start_site

        base_url, stop_site = start_site(site_root)
        config = Path(tmp) / "voxpop.toml"
        config.write_text(
            f'database_url = "{url}"\n\n[[products]]\nslug = "{product}"\n\n  [[products.sources]]\n'
            f'  name = "appstore"\n  spider = "appstore"\n  timeout_s = 600\n'
            f'  params = {{ app_id = "{APP_ID}", countries = "{",".join(countries)}", base_url = "{base_url}" }}\n',
            encoding="utf-8")
        port = free_port()
        server = voxpop(config, "serve", "--port", str(port))
        server_log: list[str] = []  # drained, so a chatty server never blocks on a full pipe
        threading.Thread(target=lambda: server_log.extend(server.stderr or []), daemon=True).start()
        writers: list[subprocess.Popen[str]] = []
        try:
            wait_healthy(port, server)
            writers = [voxpop(config, "crawl", "--product", product)]
            clients = Clients(port, paths(product, issue_id), args.clients)

            def classify_while_running() -> None:  # classify exits when nothing is pending: start it again
                while not clients.stop.is_set():
                    proc = voxpop(config, "classify", "--product", product)
                    writers.append(proc)
                    while proc.poll() is None and not clients.stop.is_set():
                        time.sleep(0.5)
                    if proc.poll() is None:
                        proc.terminate()
                    proc.communicate(timeout=120)
                    clients.stop.wait(2)

            classifier = threading.Thread(target=classify_while_running, daemon=True)
            classifier.start()
            started = time.monotonic()
            clients.run(args.seconds)
            ran = time.monotonic() - started
            classifier.join(180)
            writers[0].communicate(timeout=900)
            crawl_rc = writers[0].returncode
        finally:
            for proc in [*writers, server]:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(60)
            stop_site()
        crawled = count_posts(url, product, "appstore")
        still_seeded = count_posts(url, product, "bench")
        lost = (served - crawled) + (seeded - still_seeded)
        times = sorted(clients.times)
        p95 = times[max(0, int(round(0.95 * len(times))) - 1)] if times else float("nan")
        errors = sum(clients.errors.values())
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        database = url.split(":", 1)[0]
        print(f"database {database}; {args.clients} clients for {ran:.0f} s while a crawl ({served} reviews, "
              f"{len(countries)} storefronts) and classify wrote to the store; load average {load:.1f} on "
              f"{os.cpu_count()} CPUs")
        print(f"requests {len(times)} ({len(times) / max(ran, 1e-9):.1f}/s); p50 {statistics.median(times):.3f} s; "
              f"p95 {p95:.3f} s (goal < {GOAL_P95_S:.0f} s: {'ok' if p95 < GOAL_P95_S else 'OVER'})")
        print(f"errors {errors} (goal 0: {'ok' if not errors else 'OVER'})"
              + (f": {dict(clients.errors.most_common(5))}" if errors else ""))
        print(f"lost posts {lost} (goal 0: {'ok' if not lost else 'OVER'}): crawl exit {crawl_rc}, stored "
              f"{crawled} of {served} served; seeded {still_seeded} of {seeded} still there")
        if errors or lost:
            sys.exit(1)


if __name__ == "__main__":
    main()
