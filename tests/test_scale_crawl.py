"""Two crawl workers share one frontier through scrapy-redis: every page is fetched once.

Real `voxpop worker --role crawl --until-idle` processes, a real Scrapy engine in each, real Redis,
real PostgreSQL, and the local demo site counting requests server-side. Runs when
VOXPOP_REQUIRE_SERVICES=1 (or VOXPOP_TEST_REDIS_URL and VOXPOP_TEST_DATABASE_URL are set).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import CrawlRun, Post
from tests.scale_support import appstore_site, finish_all, fresh_slug, redis_url, voxpop, write_config

pytestmark = [pytest.mark.services, pytest.mark.slow]

COUNTRIES = ["us", "gb", "de", "fr"]
PAGES = 6
PER_PAGE = 3


@pytest.fixture
def shared_redis() -> str:
    url = redis_url()
    if url is None:
        pytest.skip("Redis tests skipped: set VOXPOP_REQUIRE_SERVICES=1 or VOXPOP_TEST_REDIS_URL")
    return url


def test_two_crawl_workers_fetch_each_page_once(tmp_path: Path, postgres_url: str, shared_redis: str,
                                                site_server) -> None:  # type: ignore[no-untyped-def]
    site = site_server(appstore_site(tmp_path / "site", "4242", COUNTRIES, PAGES, PER_PAGE, delay_s=0.2))
    slug = fresh_slug("crawl")
    config = write_config(tmp_path / "voxpop.toml", postgres_url, [{
        "slug": slug, "sources": [{"name": "appstore", "spider": "appstore",
                                   "params": {"app_id": "4242", "countries": ",".join(COUNTRIES),
                                              "base_url": site.base_url}}]}],
        extra='[crawl]\nsince = "2000-01-01"\n')
    Store(postgres_url).dispose()  # migrate once, before two workers race to it
    env = {"VOXPOP_REDIS_URL": shared_redis}
    started = time.monotonic()
    workers = [voxpop(config, "worker", "--role", "crawl", "--until-idle", "--json", env=env) for _ in range(2)]
    results = finish_all(workers, timeout=240)
    elapsed = time.monotonic() - started
    for code, _out, err in results:
        assert code == 0, err[-3000:]

    pages = Counter(hit for hit in site.hits() if "/rss/customerreviews/" in hit)
    assert len(pages) == len(COUNTRIES) * PAGES, sorted(pages)
    assert max(pages.values()) == 1, {k: v for k, v in pages.items() if v > 1}

    store = Store(postgres_url)
    with store.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Post)) or 0
        runs = list(session.scalars(select(CrawlRun).where(CrawlRun.product_slug == slug)))
    store.dispose()
    assert stored == len(COUNTRIES) * PAGES * PER_PAGE
    assert len(runs) == 2 and all(r.status == "ok" for r in runs), [(r.status, r.reason) for r in runs]
    per_worker = [r.stats.get("pages", 0) if r.stats else 0 for r in runs]
    summaries = [json.loads(out) for _code, out, _err in results]
    assert all(s["role"] == "crawl" for s in summaries)
    print(f"two crawl workers: {sum(pages.values())} pages in {elapsed:.1f}s, pages per worker {per_worker}")
