"""Crawl throughput: the full pipeline (validate, normalise, store in SQLite) against bare Scrapy.

Both crawls run the real ``appstore`` spider with the real engine in a subprocess against the local
site server, on the same pages (``--countries`` storefronts x 10 pages x 50 reviews). The bare crawl
switches the item pipelines off, so the only difference is our pipelines and the store. Rates are
``item_scraped_count / elapsed_time_seconds`` from Scrapy's own stats; each mode runs ``--repeat``
times, alternating, and the best run of each is compared (the machine is shared and noisy).
Modes: bare Scrapy, the full pipeline (batches written by a thread), and the full pipeline with
batches written by a helper process (``VOXPOP_WRITER=process``). Two scenarios: a server that
answers at once with 16 requests in flight (the crawl is CPU-bound: the worst case for any
pipeline), and one that takes ``--latency-ms`` a page with the shipped 2 requests per domain
(real APIs take 100-500 ms), on a quarter of the storefronts.

    python bench/crawl.py [--countries 20] [--repeat 2] [--latency-ms 100] [--community-pages 10]

The community section (reddit, hackernews, stackexchange, github, mastodon, bluesky: parser speed,
a first and an incremental second crawl each) comes from ``bench/crawl_community.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import appstore_site  # noqa: E402
from voxpop.demo.site import start_site  # noqa: E402

APP_ID = "555"
PER_PAGE = 50
PAGES = 10
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "LOG_LEVEL": "INFO", "RETRY_BACKOFF_BASE_S": 0.05}


def build_site(root: Path, countries: list[str], delay_s: float = 0.0) -> int:
    """Write App Store feed pages for every country; return the number of reviews."""
    return appstore_site(root, APP_ID, countries, PAGES, PER_PAGE, delay_s)[1]


def run_once(base_url: str, countries: list[str], database_url: str, mode: str,
             per_domain: int = 16) -> dict[str, float]:
    """One crawl in a subprocess (``bare``, ``full`` or ``full-process``); items, seconds, rate from its stats."""
    settings: dict[str, Any] = {**FAST, "CONCURRENT_REQUESTS_PER_DOMAIN": per_domain}
    if mode == "bare":
        settings["ITEM_PIPELINES"] = "{}"
    elif mode == "full-process":
        settings["VOXPOP_WRITER"] = "process"
    cmd = [sys.executable, "-m", "scrapy", "crawl", "appstore", "-a", "product=bench", "-a", f"base_url={base_url}",
           "-a", f"app_id={APP_ID}", "-a", f"countries={','.join(countries)}", "-a", "since=2000-01-01"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    env = {**os.environ, "VOXPOP_DATABASE_URL": database_url}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"crawl failed:\n{done.stderr[-3000:]}")
    items = re.search(r"'item_scraped_count': (\d+)", done.stderr)
    elapsed = re.search(r"'elapsed_time_seconds': ([\d.]+)", done.stderr)
    if not items or not elapsed:
        raise SystemExit(f"no stats in the crawl log:\n{done.stderr[-3000:]}")
    count, seconds = int(items.group(1)), float(elapsed.group(1))
    return {"items": count, "seconds": seconds, "rate": count / seconds}


def stored_rows(database_url: str) -> int:
    from sqlalchemy import func, select

    from store.db import Store
    from store.models import Post

    store = Store(database_url)
    try:
        with store.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(Post)) or 0)
    finally:
        store.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--countries", type=int, default=20, help="storefronts of 10 x 50 reviews each")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=100.0,
                        help="server delay per page in the second scenario (2 requests in flight, as shipped)")
    parser.add_argument("--community-pages", type=int, default=10,
                        help="pages per community source (bench/crawl_community.py); 0 skips that section")
    args = parser.parse_args(argv)
    modes = ("bare", "full", "full-process")
    # (ms per page, requests in flight, storefronts): CPU-bound worst case; shipped politeness on a real-ish API
    scenarios = [(0.0, 16, args.countries), (args.latency_ms, 2, max(1, args.countries // 4))]
    for latency, per_domain, n_countries in scenarios:
        countries = [f"c{i:02d}" for i in range(n_countries)]
        with tempfile.TemporaryDirectory(prefix="voxpop-bench-crawl-") as tmp:
            total = build_site(Path(tmp) / "site", countries, latency / 1000.0)
            base_url, stop = start_site(Path(tmp) / "site")
            runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
            try:
                for i in range(args.repeat):
                    for mode in modes:
                        database_url = f"sqlite:///{Path(tmp) / f'bench-{mode}-{i}.db'}"
                        runs[mode].append(run_once(base_url, countries, database_url, mode, per_domain))
                        if mode != "bare" and (rows := stored_rows(database_url)) != total:
                            raise SystemExit(f"{mode} crawl stored {rows} of {total} reviews")
                        time.sleep(0.3)
            finally:
                stop()
        print(f"crawl bench: {total} reviews on {len(countries) * PAGES} pages, local site server, "
              f"{latency:g} ms per page, {per_domain} requests in flight, best of {args.repeat}")
        best = {mode: max(r["rate"] for r in runs[mode]) for mode in modes}
        labels = {"bare": "bare scrapy", "full": "full pipeline+SQLite", "full-process": "full, writer process"}
        for mode in modes:
            rates = ", ".join(f"{r['rate']:.0f}" for r in runs[mode])
            print(f"  {labels[mode]:22} {best[mode]:8.0f} items/s   (runs: {rates})")
        print(f"  ratio full/bare        {best['full'] / best['bare']:8.2f}   (target >= 0.80)")
        print(f"  ratio process/bare     {best['full-process'] / best['bare']:8.2f}")
    if args.community_pages:
        from bench.crawl_community import print_table, run  # the six community spiders

        print_table(run(pages=args.community_pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
