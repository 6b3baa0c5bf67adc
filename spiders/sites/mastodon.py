"""Mastodon: public posts with a hashtag on one instance.

``scrapy crawl mastodon -a product=SLUG -a base_url=https://mastodon.social -a tag=notely [-a also=...]``

``{instance}/api/v1/timelines/tag/{tag}?limit=40`` newest first, paged by the ``Link`` header (or
``max_id`` = the oldest id seen) until an empty page or the id stored by the previous crawl.
``content`` is HTML and becomes text; boosts (``reblog`` not null) are skipped, the original is
what counts. ``MASTODON_TOKEN`` is sent when set (instances that close their public timelines
answer 401 without one). When ``X-RateLimit-Remaining`` reaches 0 the next request waits for
``X-RateLimit-Reset`` (or stops cleanly, recording the cap, when that is beyond ``max_wait_s``).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import scrapy
from scrapy.http import Response

from spiders.community import CommunitySpider
from spiders.pages import mastodon as pages
from spiders.pages.community import parse_link_header
from voxpop.core.timeutil import parse_datetime


class MastodonSpider(CommunitySpider):
    """Posts with a hashtag on one Mastodon instance (see the module docstring)."""

    name = "mastodon"
    default_base_url = "https://mastodon.social"
    required_args = ("tag",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag = self.params["tag"].lstrip("#")
        self.token = os.environ.get("MASTODON_TOKEN") or ""
        self.key = f"#{self.tag}@{urlsplit(self.base_url).netloc}"
        self.stored_id = 0
        self.newest_id = 0

    def first_requests(self) -> Iterable[scrapy.Request]:
        stored = self.high_water_of(self.key)
        self.stored_id = int(stored) if str(stored or "").isdigit() else 0
        yield self.timeline({"limit": "40"})

    def timeline(self, params: dict[str, str]) -> scrapy.Request:
        url = f"{self.base_url}/api/v1/timelines/tag/{quote(self.tag)}?{urlencode(params)}"
        return self.page_request(url)

    def page_request(self, url: str) -> scrapy.Request:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return scrapy.Request(url, callback=self.on_timeline, errback=self.on_error, headers=headers,
                              dont_filter=True, meta={"handle_httpstatus_list": [401, 403, 404, 422]})

    def rate_limit_wait(self, response: Response) -> float | None:
        """Seconds until ``X-RateLimit-Reset`` when nothing is left, else None."""
        remaining = response.headers.get(b"X-RateLimit-Remaining")
        if remaining is None or remaining.strip() not in (b"0", b"0.0"):
            return None
        reset = response.headers.get(b"X-RateLimit-Reset")
        try:
            when = parse_datetime(reset.decode("latin-1")) if reset else None
        except ValueError:
            when = None
        return max(0.0, when.timestamp() - time.time()) if when else 60.0

    async def on_timeline(self, response: Response) -> AsyncIterator[Any]:
        if response.status in (401, 403):
            self.auth_failed(response, "this instance needs a token for its timelines: set MASTODON_TOKEN"
                             if not self.token else "check MASTODON_TOKEN")
        if response.status != 200:
            self.http_failed(response, f"the #{self.tag} timeline")
            return
        found_by = f"#{self.tag}@{urlsplit(self.base_url).netloc}"
        page, retry = self.parse_or_retry(response, pages.parse_timeline, found_by=found_by)
        if page is None:
            if retry is not None:
                yield retry
            return
        self.info["reblogs_skipped"] = self.info.get("reblogs_skipped", 0) + page.info["reblogs"]
        if page.info["newest_id"]:
            newest = int(page.info["newest_id"])
            if newest > self.newest_id:
                self.newest_id = newest
                self.set_high_water(str(newest), self.key)
        reached_old = False
        for post in page.posts:
            status_id = int(post["raw"]["id"]) if post["raw"]["id"].isdigit() else 0
            if self.stored_id and status_id <= self.stored_id:
                reached_old = True
                continue
            if self.before_since(parse_datetime(post["created_at"])):
                reached_old = True
                continue
            yield self.community_post(post)
        if page.next is not None and str(page.next).isdigit() and self.stored_id >= int(page.next):
            reached_old = True  # the oldest status of the page was stored before (or was a boost)
        if not page.info["count"] or reached_old:
            self.mark_complete(self.key)
            return
        following = parse_link_header(response.headers.get(b"Link")).get("next")
        if following:
            parts = urlsplit(response.urljoin(following))
            request = self.page_request(f"{self.base_url}{parts.path}?{parts.query}")
        else:
            request = self.timeline({"limit": "40", "max_id": str(page.next)})
        wait = self.rate_limit_wait(response)
        if wait is not None and not await self.pause(wait, "X-RateLimit-Remaining is 0"):
            self.rate_limited += 1
            return
        yield request
