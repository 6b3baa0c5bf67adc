"""Google Play reviews of one app, newest first, following continuation tokens.

``scrapy crawl googleplay -a product=SLUG -a app_id=com.example.app [-a lang=en] [-a country=us]``
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import scrapy
from scrapy.http import Response

from spiders.base import VoxpopSpider
from spiders.pages.googleplay import parse_reviews, rpc_body, rpc_url


class GooglePlaySpider(VoxpopSpider):
    """Crawl an app's Google Play reviews through the web page's reviews RPC."""

    name = "googleplay"
    default_base_url = "https://play.google.com"
    required_args = ("app_id",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app_id = str(self.params["app_id"]).strip()
        self.lang = str(self.params.get("lang") or "en")
        self.country = str(self.params.get("country") or "us")
        self.tokens_seen: set[str] = set()

    def first_requests(self) -> Iterable[scrapy.Request]:
        yield self.page_request(None)

    def page_request(self, token: str | None) -> scrapy.Request:
        """The RPC request of the page after ``token`` (the first page when None)."""
        if token:
            self.tokens_seen.add(token)
        return self.request(
            rpc_url(self.base_url, self.lang, self.country), self.parse_page, method="POST",
            body=rpc_body(self.app_id, token),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            dont_filter=True,  # same URL every page; the body differs
        )

    def parse_page(self, response: Response) -> Iterable[Any]:
        """Yield the page's reviews and ask for the next page unless the crawl is done."""
        page, retry = self.parse_or_retry(response, parse_reviews, self.app_id, self.lang)
        if page is None:
            if retry is not None:
                yield retry
            return
        reached_old = yield from self.emit_new(page.posts)
        if not page.posts or reached_old or not page.token or page.token in self.tokens_seen:
            self.mark_complete()
            return
        yield self.page_request(page.token)
