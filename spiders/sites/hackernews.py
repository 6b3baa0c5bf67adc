"""Hacker News: stories and comments that match a query, through the Algolia search API.

``scrapy crawl hackernews -a product=SLUG -a query=notely [-a tags=(story,comment)] [-a also=...]``

``/api/v1/search_by_date?query=..&tags=(story,comment)&numericFilters=created_at_i>{t}`` answers
newest first, but one query reaches at most about 1,000 hits (``nbPages`` x ``hitsPerPage``) even
when ``nbHits`` is larger. The spider reads a time window to its last page; when ``nbHits`` said
there was more than it could reach, it records the cap and moves the window's upper edge down to the
oldest hit seen (``created_at_i<=oldest``), until a window is read whole. ``reported_total`` is
``nbHits`` of the first window; the high-water mark is the newest ``created_at_i``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from spiders.community import CommunitySpider
from spiders.pages import hackernews as pages

SEARCH_PATH = "/api/v1/search_by_date"
MAX_WINDOWS = 200  # a query with more history than this many windows is cut (recorded as a cap)


class HackerNewsSpider(CommunitySpider):
    """Stories and comments matching a query (see the module docstring)."""

    name = "hackernews"
    default_base_url = "https://hn.algolia.com"
    required_args = ("query",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.query = self.params["query"]
        self.tags = self.params.get("tags") or "(story,comment)"
        self.hits_per_page = int(self.params.get("hits_per_page") or 100)
        self.key = f"query:{self.query}"
        self.seen: set[str] = set()
        self.windows = 0
        self.lower = 0

    def first_requests(self) -> Iterable[scrapy.Request]:
        cutoff = self.cutoff(self.key)
        self.lower = int(cutoff.timestamp()) if cutoff else 0
        yield self.search(upper=None, page=0)

    def search(self, upper: int | None, page: int) -> scrapy.Request:
        """One page of one time window ``(lower, upper]``."""
        filters = f"created_at_i>{self.lower}" + (f",created_at_i<={upper}" if upper is not None else "")
        params = {"query": self.query, "tags": self.tags, "numericFilters": filters,
                  "hitsPerPage": str(self.hits_per_page), "page": str(page)}
        return scrapy.Request(f"{self.base_url}{SEARCH_PATH}?{urlencode(params)}", callback=self.on_search,
                              errback=self.on_error, meta={"upper": upper, "page": page}, dont_filter=True)

    async def on_search(self, response: Response) -> AsyncIterator[Any]:
        upper, page_no = response.meta["upper"], response.meta["page"]
        page, retry = self.parse_or_retry(response, pages.parse_search, found_by=f"hn search:{self.query}")
        if page is None:
            if retry is not None:
                yield retry
            return
        info = page.info
        if upper is None and page_no == 0:
            self.record_total(info["nbHits"])
        for post in page.posts:
            if post["external_id"] in self.seen:
                continue  # the window edge repeats the oldest second of the previous window
            self.seen.add(post["external_id"])
            created = post["raw"].get("created_at_i")
            if created is not None:
                self.mark_seen(datetime.fromtimestamp(int(created), tz=UTC), self.key)
            yield self.community_post(post)
        if page.next is not None and info["count"]:
            yield self.search(upper, int(page.next))
            return
        reachable = info["nbPages"] * info["hitsPerPage"]
        if info["nbHits"] > reachable and info["oldest"] is not None:
            self.windows += 1
            self.info["windows"] = self.windows + 1
            self.cap_hit(f"Algolia reaches at most {reachable} hits per query: time window moved")
            if self.windows >= MAX_WINDOWS:
                self.cap_hit(f"stopped after {MAX_WINDOWS} time windows")
                return
            new_upper = int(info["oldest"])
            if upper is not None and new_upper >= upper:
                new_upper = upper - 1  # every hit of the page shares one second: step past it
            yield self.search(new_upper, 0)
            return
        self.mark_complete(self.key)
