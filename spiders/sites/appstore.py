"""App Store reviews: each country storefront asked for, newest first, up to the feed's 10-page cap.

``scrapy crawl appstore -a product=SLUG -a app_id=ID [-a countries=all|us,gb] [-a base_url=URL]``

``countries = "all"`` crawls every storefront of :data:`spiders.sites.appstore_storefronts.STOREFRONTS`,
politely: a storefront's paging stops at the first page with nothing new (a known review or an empty page), so
an empty storefront costs one request. What each storefront held goes into the run (``storefronts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import scrapy
from scrapy.http import Response

from spiders.base import VoxpopSpider
from spiders.pages.appstore import MAX_PAGES, feed_url, parse_feed
from spiders.sites.appstore_storefronts import STOREFRONTS


class AppStoreSpider(VoxpopSpider):
    """Crawl the customer-reviews feed of one app in each country."""

    name = "appstore"
    default_base_url = "https://itunes.apple.com"
    required_args = ("app_id",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app_id = str(self.params["app_id"]).strip()
        self.countries = storefronts(str(self.params.get("countries", "us")))
        self.held: dict[str, int] = {}  # reviews seen per storefront in this crawl
        self.info["storefronts_asked"] = len(self.countries)
        self.info["storefronts"] = {}

    def first_requests(self) -> Iterable[scrapy.Request]:
        for country in self.countries:
            yield self.page_request(country, 1)

    def page_request(self, country: str, page: int) -> scrapy.Request:
        """The request for one feed page."""
        return self.request(feed_url(self.base_url, country, self.app_id, page), self.parse_page,
                            cb_kwargs={"country": country, "page": page})

    def parse_page(self, response: Response, country: str, page: int) -> Iterable[Any]:
        """Yield the page's reviews, then the next page unless the feed or the cutoff ends here."""
        feed, retry = self.parse_or_retry(response, parse_feed, country, self.app_id)
        if feed is None:
            if retry is not None:
                yield retry
            return
        self.held[country] = self.held.get(country, 0) + len(feed.posts)
        self.info["storefronts"] = {c: n for c, n in sorted(self.held.items()) if n}
        self.info["storefronts_empty"] = sum(1 for n in self.held.values() if not n)
        reached_old = False
        id_key = f"{country}:id"  # feeds without dates: review ids grow over time, so stop at a known one
        known_id = _as_int(self.high_water_of(id_key))
        for post in feed.posts:
            created = post["created_at"] if not isinstance(post["created_at"], str) else None
            review_id = _as_int(post["external_id"].rpartition(":")[2])
            if self.is_old(created, country) or (created is None and known_id is not None
                                                 and review_id is not None and review_id <= known_id):
                reached_old = True
            if self.before_since(created):
                continue
            self.mark_seen(created, country)
            if review_id is not None and review_id > (_as_int(self.new_high_water.get(id_key)) or -1):
                self.set_high_water(review_id, id_key)
            yield self.post(**post)
        if reached_old or not feed.posts or page >= MAX_PAGES or (
                feed.last_page is not None and page >= feed.last_page):
            self.mark_complete(id_key)
        if not feed.posts or reached_old:
            self.mark_complete(country)
            return
        if page >= MAX_PAGES:  # the feed never goes further, though older reviews exist
            self.cap_hit(f"appstore feed stops at {MAX_PAGES} pages ({country})")
            self.mark_complete(country)
            return
        if feed.last_page is not None and page >= feed.last_page:
            self.mark_complete(country)
            return
        yield self.page_request(country, page + 1)


def storefronts(value: str) -> list[str]:
    """Storefront codes from ``countries``: ``all`` for every storefront, else a comma-separated list."""
    codes = [c.strip().lower() for c in value.split(",") if c.strip()]
    if "all" in codes:
        return list(STOREFRONTS)
    return list(dict.fromkeys(codes))


def _as_int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
