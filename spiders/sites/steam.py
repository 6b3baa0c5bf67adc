"""Steam reviews of one app, newest first, following the cursor until it repeats or runs dry.

``scrapy crawl steam -a product=SLUG -a app_id=ID [-a base_url=URL]``
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import scrapy
from scrapy.http import Response

from spiders.base import VoxpopSpider
from spiders.pages.steam import parse_reviews, reviews_url


class SteamSpider(VoxpopSpider):
    """Crawl an app's Steam reviews by cursor."""

    name = "steam"
    default_base_url = "https://store.steampowered.com"
    required_args = ("app_id",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app_id = str(self.params["app_id"]).strip()
        self.cursors_seen: set[str] = set()

    def first_requests(self) -> Iterable[scrapy.Request]:
        yield self.page_request("*")

    def page_request(self, cursor: str) -> scrapy.Request:
        """The request of the page at ``cursor``."""
        self.cursors_seen.add(cursor)
        return self.request(reviews_url(self.base_url, self.app_id, cursor), self.parse_page)

    def parse_page(self, response: Response) -> Iterable[Any]:
        """Yield the page's reviews and follow the cursor unless the crawl is done."""
        page, retry = self.parse_or_retry(response, parse_reviews, self.app_id)
        if page is None:
            if retry is not None:
                yield retry
            return
        if page.total is not None:
            self.record_total(page.total)
            self.info["review_score_desc"] = page.summary.get("review_score_desc")
        reached_old = yield from self.emit_new(page.posts)
        if not page.posts or reached_old or not page.cursor or page.cursor in self.cursors_seen:
            self.mark_complete()
            return
        yield self.page_request(page.cursor)
