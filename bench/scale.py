"""Scale-out figures: classify throughput with 1 and 2 workers on PostgreSQL, crawl throughput with 1 and 2.

    .venv/bin/python bench/scale.py [--posts 2000] [--pages 12] [--countries 8] [--skip-classify] [--skip-crawl]

Needs PostgreSQL (``VOXPOP_BENCH_DATABASE_URL``, default postgres@127.0.0.1:5432, a throw-away
database is created and dropped) and Redis (``VOXPOP_BENCH_REDIS_URL``, default 127.0.0.1:6379/15).
Classify workers are real ``voxpop worker --role classify --until-idle`` processes with the real
model; crawl workers are real ``scrapy crawl`` processes (what ``voxpop worker --role crawl`` runs)
sharing one scrapy-redis frontier, against the local demo site with a fixed delay per page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.support import appstore_site, finish_all, insert_posts, voxpop, write_config  # noqa: E402
from store.db import Store  # noqa: E402
from store.models import Classification  # noqa: E402
from store.repo import ensure_product  # noqa: E402

PG_ADMIN = os.environ.get("VOXPOP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("VOXPOP_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
        "LOG_LEVEL": "WARNING"}


class TempDatabase:
    """A throw-away PostgreSQL database."""

    def __init__(self) -> None:
        self.name = f"voxpop_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(PG_ADMIN).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def bench_classify(workers: int, posts: int, batch_size: int, work: Path) -> dict[str, Any]:
    """Classify ``posts`` pending posts with ``workers`` worker processes; wall and steady rates."""
    db = TempDatabase()
    try:
        store = Store(db.url)
        insert_posts(store, "bench", posts)
        config = write_config(work / f"classify-{workers}.toml", db.url, [{"slug": "bench"}])
        started = time.monotonic()
        procs = [voxpop(config, "worker", "--role", "classify", "--until-idle", "--json",
                        "--batch-size", str(batch_size)) for _ in range(workers)]
        results = finish_all(procs, timeout=1800)
        wall = time.monotonic() - started
        for code, _out, err in results:
            if code != 0:
                raise SystemExit(f"classify worker failed:\n{err[-2000:]}")
        summaries = [json.loads(out) for _code, out, _err in results]
        with store.sessions() as session:
            done = session.scalar(select(func.count()).select_from(Classification)) or 0
            first, last = session.execute(select(func.min(Classification.classified_at),
                                                 func.max(Classification.classified_at))).one()
        store.dispose()
        span = max((last - first).total_seconds(), 1e-6)
        first_batch = min(batch_size, posts)
        return {"workers": workers, "posts": posts, "classified": done, "wall_s": round(wall, 1),
                "wall_posts_per_s": round(posts / wall, 1),
                "steady_posts_per_s": round((done - first_batch * workers) / span, 1) if done > first_batch else None,
                "per_worker": [s["classified"] + s["skipped_language"] for s in summaries],
                "processed_total": sum(s["classified"] + s["skipped_language"] for s in summaries)}
    finally:
        db.drop()


def bench_crawl(workers: int, countries: int, pages: int, delay_s: float, polite: bool, work: Path) -> dict[str, Any]:
    """Crawl one source (``countries`` x ``pages`` feed pages) with ``workers`` processes sharing Redis."""
    from spiders.runner import run_crawl
    from voxpop.demo.site import start_site

    db = TempDatabase()
    names = [f"c{i:02d}" for i in range(countries)]
    site, _reviews = appstore_site(work / f"site-{workers}-{polite}", "777", names, pages, per_page=5,
                                   delay_s=delay_s)
    base_url, stop = start_site(site)
    old_env = os.environ.get("VOXPOP_REDIS_URL")
    os.environ["VOXPOP_REDIS_URL"] = REDIS
    try:
        slug = f"crawl{uuid.uuid4().hex[:8]}"
        store = Store(db.url)
        with store.transaction() as session:  # as `voxpop worker` does (config sync) before crawling
            ensure_product(session, slug, slug, False)
        store.dispose()
        settings: dict[str, Any] = {"VOXPOP_EVERY_MINUTES": 360, "LOG_LEVEL": "WARNING"}
        if not polite:
            settings.update(FAST)
        outcomes: list[Any] = []

        def one() -> None:
            outcomes.append(run_crawl(product_slug=slug, source_name="appstore", spider="appstore",
                                      params={"app_id": "777", "countries": ",".join(names)},
                                      database_url=db.url, timeout_s=1200, base_url=base_url, since="2000-01-01",
                                      extra_settings=settings))

        started = time.monotonic()
        threads = [threading.Thread(target=one) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        import urllib.request

        with urllib.request.urlopen(base_url + "/__hits__", timeout=10) as response:  # noqa: S310 - local
            records = [h for h in json.load(response) if "/rss/" in h["target"]]
        hits = Counter(h["target"] for h in records)
        times = sorted(float(h["at"]) for h in records)
        span = max(times[-1] - times[0], 1e-6) if len(times) > 1 else 0.0
        return {"steady_pages_per_s": round((len(times) - 1) / span, 2) if span else None,
                "workers": workers, "polite": polite, "pages": countries * pages, "fetched": sum(hits.values()),
                "fetched_twice": sum(1 for n in hits.values() if n > 1), "wall_s": round(wall, 1),
                "pages_per_s": round(sum(hits.values()) / wall, 2),
                "stored": sum(o.stored for o in outcomes), "status": [o.status for o in outcomes],
                "pages_per_worker": [o.stats.get("pages") for o in outcomes]}
    finally:
        stop()
        if old_env is None:
            os.environ.pop("VOXPOP_REDIS_URL", None)
        else:
            os.environ["VOXPOP_REDIS_URL"] = old_env
        db.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--countries", type=int, default=12)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.3, help="server-side seconds per page")
    parser.add_argument("--polite-pages", type=int, default=3, help="pages per country in the polite run")
    parser.add_argument("--skip-classify", action="store_true")
    parser.add_argument("--skip-crawl", action="store_true")
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}  postgres: {make_url(PG_ADMIN).host}  redis: {REDIS}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_classify:
            print(f"\n== classify: {args.posts} short posts, claims of {args.batch_size}, real model")
            for workers in (1, 2):
                r = bench_classify(workers, args.posts, args.batch_size, work)
                print(f"  {workers} worker(s): wall {r['wall_s']:>6.1f}s  {r['wall_posts_per_s']:>6.1f} posts/s "
                      f"(incl. start + model load)  steady {r['steady_posts_per_s']} posts/s  "
                      f"per worker {r['per_worker']}  processed {r['processed_total']} / classified {r['classified']}")
        if not args.skip_crawl:
            pages = args.countries * args.pages
            print(f"\n== crawl: one App Store source, {args.countries} countries x {args.pages} pages = {pages} pages, "
                  f"{args.delay}s per page server-side, scrapy-redis frontier")
            for workers in (1, 2):
                r = bench_crawl(workers, args.countries, args.pages, args.delay, False, work)
                print(f"  unthrottled, {workers} worker(s): {r['fetched']} fetched ({r['fetched_twice']} twice) "
                      f"in {r['wall_s']}s = {r['pages_per_s']} pages/s (steady {r['steady_pages_per_s']} pages/s), "
                      f"per worker {r['pages_per_worker']}, stored {r['stored']}, {r['status']}")
            polite = args.countries * args.polite_pages
            print(f"\n== crawl with the shipped polite settings (1 s delay, autothrottle), {polite} pages")
            for workers in (1, 2):
                r = bench_crawl(workers, args.countries, args.polite_pages, args.delay, True, work)
                print(f"  polite, {workers} worker(s): {r['fetched']} fetched ({r['fetched_twice']} twice) "
                      f"in {r['wall_s']}s = {r['pages_per_s']} pages/s (steady {r['steady_pages_per_s']} pages/s), "
                      f"per worker {r['pages_per_worker']}")


if __name__ == "__main__":
    main()
