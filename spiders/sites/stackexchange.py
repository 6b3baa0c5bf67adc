"""Stack Exchange: questions that match a query on one site, through API 2.3.

``scrapy crawl stackexchange -a product=SLUG -a site=softwarerecs -a query=notely [-a also=...]``

``/2.3/search/advanced?site=..&q=..&filter=withbody&pagesize=100&page=N&sort=creation&order=desc``
from the high-water mark (``fromdate``), paged while ``has_more``. The API's ``backoff`` field is
obeyed: no further request to the method before that many seconds have passed. ``quota_remaining``
is recorded; a used-up quota or a ``throttle_violation`` longer than ``max_wait_s`` ends the crawl
cleanly as a cap hit. ``STACKEXCHANGE_KEY``, when set, raises the daily quota (no credential is needed).
The API is keyed and governed by its own terms, so robots.txt is not consulted.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from spiders.community import CommunitySpider
from spiders.pages import stackexchange as pages
from spiders.pages.common import MalformedBody
from voxpop.core.timeutil import parse_datetime

SEARCH_PATH = "/2.3/search/advanced"
_SECONDS = re.compile(r"available in (\d+) seconds?")


class StackExchangeSpider(CommunitySpider):
    """Questions on a Stack Exchange site (see the module docstring)."""

    name = "stackexchange"
    default_base_url = "https://api.stackexchange.com"
    required_args = ("site", "query")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = self.params["site"]
        self.query = self.params["query"]
        self.api_key = os.environ.get("STACKEXCHANGE_KEY") or ""
        self.key = f"{self.site}:{self.query}"
        self.fromdate = 0
        self.throttled = 0

    def first_requests(self) -> Iterable[scrapy.Request]:
        cutoff = self.cutoff(self.key)
        self.fromdate = int(cutoff.timestamp()) if cutoff else 0
        yield self.search(1)

    def search(self, page: int) -> scrapy.Request:
        params = {"site": self.site, "q": self.query, "filter": "withbody", "pagesize": "100", "page": str(page),
                  "sort": "creation", "order": "desc", "fromdate": str(self.fromdate)}
        if self.api_key:
            params["key"] = self.api_key
        return scrapy.Request(f"{self.base_url}{SEARCH_PATH}?{urlencode(params)}", callback=self.on_search,
                              errback=self.on_error, dont_filter=True,
                              meta={"page": page, "handle_httpstatus_list": [400, 401, 403],
                                    "dont_obey_robotstxt": True})

    async def on_search(self, response: Response) -> AsyncIterator[Any]:
        page_no = response.meta["page"]
        if response.status in (401, 403):
            self.auth_failed(response, "check STACKEXCHANGE_KEY (or unset it: the API works without a key)")
        try:
            page = pages.parse_search(response.body, found_by=f"{self.site} search:{self.query}")
        except MalformedBody as exc:
            retry = self.retry_malformed(response, exc)
            if retry is not None:
                yield retry  # once: a truncated answer is often a passing glitch
            return
        info = page.info
        for field in ("quota_remaining", "quota_max"):
            if field in info:
                self.info[field] = info[field]
        if "error_id" in info:
            async for request in self.on_api_error(response, info):
                yield request
            return
        self.count_page()
        if page_no == 1 and "total" in info:
            self.record_total(info["total"])
        reached_old = False
        for post in page.posts:
            created = parse_datetime(post["created_at"])
            if self.is_old(created, self.key):
                reached_old = True
                continue
            self.mark_seen(created, self.key)
            yield self.community_post(post)
        if info.get("backoff"):
            self.info["backoff_s"] = max(self.info.get("backoff_s", 0), int(info["backoff"]))
        if not page.next or reached_old:
            self.mark_complete(self.key)
            return
        if info.get("quota_remaining") == 0:
            self.cap_hit("daily API quota used up (quota_remaining is 0)")
            return
        if not await self.pause(float(info.get("backoff") or 0), "backoff field"):
            return
        yield self.search(page_no + 1)

    async def on_api_error(self, response: Response, info: dict[str, Any]) -> AsyncIterator[Any]:
        """An error wrapper: wait out a short throttle and try again once, else record and stop."""
        name, message = info.get("error_name", ""), info.get("error_message", "")
        if name in ("access_denied", "access_token_required", "invalid_access_token", "key_required"):
            self.auth_failed(response, f"{name}: {message}; check STACKEXCHANGE_KEY")
        match = _SECONDS.search(message)
        if name == "throttle_violation" and match and self.throttled < 1:
            self.throttled += 1
            if await self.pause(float(match.group(1)), "throttle_violation"):
                assert response.request is not None
                yield response.request.replace(dont_filter=True)
                return
        self.http_failed(response, f"API error {info.get('error_id')} {name}: {message}"[:200])
        if name == "throttle_violation":
            self.cap_hit(f"throttled by the API: {message}"[:200])
