"""Reviews embedded as schema.org JSON-LD in any product page.

``scrapy crawl jsonld -a product=SLUG -a urls=https://a.example/p1,https://b.example/p2``
(relative paths are taken against ``base_url``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.http import Response

from spiders.base import VoxpopSpider
from spiders.pages.jsonld import parse_page, reported_count


class JsonLdSpider(VoxpopSpider):
    """Fetch each listed page and keep the Review objects of its JSON-LD."""

    name = "jsonld"
    required_args = ("urls",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        raw_urls = [u.strip() for u in str(self.params["urls"]).split(",") if u.strip()]
        self.urls = [urljoin(self.base_url + "/", u) if self.base_url and "://" not in u else u for u in raw_urls]
        for url in self.urls:
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                raise ValueError(f"spider {self.name}: urls must be http:// or https:// URLs, got {url!r}")

    def extra_urls(self) -> list[str]:
        """Every listed page's host is the source's own."""
        return list(self.urls)

    def first_requests(self) -> Iterable[scrapy.Request]:
        for url in self.urls:
            yield self.request(url, self.parse_reviews)

    def parse_reviews(self, response: Response) -> Iterable[Any]:
        """Yield the page's reviews and record its aggregate rating."""
        page, retry = self.parse_or_retry(response, parse_page, response.url)
        if page is None:
            if retry is not None:
                yield retry
            return
        if page.bad_blocks:
            self.info["bad_jsonld_blocks"] = self.info.get("bad_jsonld_blocks", 0) + page.bad_blocks
        if page.aggregate:
            self.info.setdefault("aggregate_rating", {})[response.url] = page.aggregate
            self.record_total(reported_count(page.aggregate), key=response.url)
        for post in page.posts:
            created = post["created_at"] if not isinstance(post["created_at"], str) else None
            if self.before_since(created):
                continue
            self.mark_seen(created)
            yield self.post(**post)
        self.info.setdefault("reviews_per_page", {})[response.url] = len(page.posts)
        self.mark_complete()
