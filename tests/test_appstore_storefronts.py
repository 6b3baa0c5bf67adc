"""App Store ``countries = "all"``: every storefront once, politely, against the local site (real Scrapy engine)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from spiders.sites.appstore import storefronts
from spiders.sites.appstore_storefronts import STOREFRONTS
from tests.conftest_sites import CrawlHelper, make_site
from tests.review_sites import appstore_entry, appstore_page

APP = "77"
PAGE = "/{c}/rss/customerreviews/page={p}/id=77/sortby=mostrecent/json"
HELD = {"us": 7, "gb": 3, "jp": 2, "br": 1}  # the storefronts with reviews; every other one is empty


def _routes() -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for country in STOREFRONTS:
        routes[PAGE.format(c=country, p=1)] = appstore_page([], APP, country, 1, 1)
    start = 0
    for country, count in HELD.items():
        entries = [appstore_entry(n, APP, country) for n in range(start, start + count)]
        start += 100
        pages = [entries[i:i + 5] for i in range(0, len(entries), 5)]  # 5 a page: "us" has two pages
        for number, chunk in enumerate(pages, start=1):
            routes[PAGE.format(c=country, p=number)] = appstore_page(chunk, APP, country, number, len(pages))
    return routes


def test_the_storefront_list_is_codes_without_repeats() -> None:
    assert len(STOREFRONTS) == len(set(STOREFRONTS)) > 150
    assert all(len(c) == 2 and c.isascii() and c.islower() for c in STOREFRONTS)
    assert storefronts("all") == list(STOREFRONTS) and storefronts("US, gb,us") == ["us", "gb"]


def test_countries_all_crawls_every_storefront_once_and_records_what_each_held(tmp_path: Path, site_server: Any,
                                                                               crawl: CrawlHelper) -> None:
    site = site_server(make_site(tmp_path / "site", _routes()))
    outcome = crawl("appstore", site.base_url, app_id=APP, countries="all")
    assert outcome.status == "ok", outcome.reason
    assert outcome.stored == sum(HELD.values())
    assert outcome.stats["storefronts"] == dict(sorted(HELD.items()))
    assert outcome.stats["storefronts_asked"] == len(STOREFRONTS)
    assert outcome.stats["storefronts_empty"] == len(STOREFRONTS) - len(HELD)
    hits = Counter(h for h in site.hits() if "/rss/" in h)
    assert all(hits[PAGE.format(c=c, p=1)] == 1 for c in STOREFRONTS)  # an empty storefront costs one request
    assert sum(hits.values()) == len(STOREFRONTS) + 1  # "us" has a second page
    assert {p.found_by for p in crawl.posts()} == {f"appstore:{c}" for c in HELD}

    # Nothing new since: each storefront's paging stops at its first page.
    again_site = site_server(make_site(tmp_path / "again", _routes()))
    again = crawl("appstore", again_site.base_url, app_id=APP, countries="all")
    assert again.status == "ok" and again.stored == 0
    again_hits = [h for h in again_site.hits() if "/rss/" in h]
    assert len(again_hits) == len(STOREFRONTS) and not any("page=2" in h for h in again_hits)


def test_coverage_shows_what_each_storefront_held(sqlite_store: Any) -> None:
    from store.models import CrawlRun
    from store.repo import utcnow
    from tests.web_support import start

    for server in start(sqlite_store):
        with sqlite_store.transaction() as session:
            session.add(CrawlRun(spider="appstore", product_slug="notely", started_at=utcnow(), status="ok",
                                 stats={"storefronts": {"gb": 3, "us": 7}, "storefronts_empty": 171}))
        status, _, html = server.request("GET", "/status")
        assert status == 200 and "last crawl by storefront: gb 3, us 7 · 171 empty" in html
        _, data = server.get_json("/api/status")
        assert any(c["storefronts"] == {"gb": 3, "us": 7} for c in data["coverage"])
