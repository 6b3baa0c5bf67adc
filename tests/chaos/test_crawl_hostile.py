"""Chaos: hostile sites against the real Scrapy engine (off-site redirects, huge bodies, local files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT
from tests.conftest_sites import CrawlHelper, make_site, respond
from tests.test_crawl_reviews import product_page

pytestmark = pytest.mark.chaos
HTML = {"Content-Type": "text/html"}


def test_redirect_to_another_host_is_refused_and_counted(tmp_path: Path, site_server: Any,
                                                         crawl: CrawlHelper) -> None:
    # The other host serves reviews too: following the redirect would store them under our source.
    elsewhere = site_server(make_site(tmp_path / "elsewhere", {"/stolen": respond(product_page(9, 3), raw=True,
                                                                                    headers=HTML)}))
    other_host = elsewhere.base_url.replace("127.0.0.1", "localhost")  # same machine, another host name
    routes = {
        "/p/1": respond(product_page(1, 2), raw=True, headers=HTML),
        "/p/2": respond(status=302, headers={"Location": f"{other_host}/stolen"}),
        "/p/3": respond(status=301, headers={"Location": "/p/3b"}),  # same host: followed
        "/p/3b": respond(product_page(3, 1), raw=True, headers=HTML),
        "/p/4": respond(status=307, headers={"Location": "file:///etc/passwd"}),
    }
    site = site_server(make_site(tmp_path / "site", routes))
    outcome = crawl("jsonld", site.base_url, urls="/p/1,/p/2,/p/3,/p/4")

    assert outcome.stats["offsite_redirects"] == 2, outcome.stats
    assert "2 redirect(s) to other hosts refused" in (outcome.reason or "")
    assert outcome.status == "partial"
    assert "/stolen" not in elsewhere.hits()
    texts = [p.text for p in crawl.posts()]
    assert outcome.stored == 3 and len(texts) == 3  # p/1 (2 reviews) and p/3b (1): nothing from elsewhere
    assert "/p/3b" in site.hits()


def test_response_over_the_size_cap_is_skipped_and_counted(tmp_path: Path, site_server: Any,
                                                           crawl: CrawlHelper) -> None:
    padding = "<!-- " + "x" * (11 * 1024 * 1024) + " -->"  # 11 MB: over the default 10 MB cap
    routes = {
        "/p/1": respond(product_page(1, 2), raw=True, headers=HTML),
        "/p/big": product_page(2, 2).replace("</body>", padding + "</body>"),
    }
    site = site_server(make_site(tmp_path / "site", routes))
    outcome = crawl("jsonld", site.base_url, urls="/p/1,/p/big")
    assert outcome.stats["oversize_skipped"] == 1, outcome.stats
    assert "over DOWNLOAD_MAXSIZE skipped" in (outcome.reason or "")
    assert outcome.status == "partial" and outcome.stored == 2


@pytest.mark.parametrize("base_url", ["file:///etc", "ftp://127.0.0.1/reviews", "javascript:alert(1)"])
def test_spider_refuses_a_base_url_that_is_not_http(tmp_path: Path, base_url: str) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "jsonld", "-a", "product=p", "-a", f"base_url={base_url}",
         "-a", "urls=/passwd"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "VOXPOP_DATABASE_URL": db, "HOME": str(tmp_path)})
    assert "base_url must be an http:// or https:// URL" in result.stderr
    assert "item_scraped_count" not in result.stderr
