"""Bluesky: posts that match a search query, through the authenticated XRPC API.

``scrapy crawl bluesky -a product=SLUG -a query=notely [-a also=...] [-a base_url=https://bsky.social]``

Anonymous search is closed, so the spider opens a session first
(``com.atproto.server.createSession`` with ``BLUESKY_HANDLE`` / ``BLUESKY_APP_PASSWORD``, an app
password), then reads ``app.bsky.feed.searchPosts?q=..&limit=100&sort=latest&since=..`` with the
``accessJwt``, paging by ``cursor`` until the posts reach the high-water mark (newest ``indexedAt``).
An expired access token (``ExpiredToken``, 400/401) is renewed with
``com.atproto.server.refreshSession``, once per request; a refused login ends the crawl with a
message. ``RateLimit-Remaining`` / ``RateLimit-Reset`` are obeyed (and a 429 waits for the reset).
The post URL is built from the AT URI: ``https://bsky.app/profile/{handle}/post/{rkey}``.
The XRPC API is an authenticated API, not web pages, so robots.txt is not consulted.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from spiders.community import CommunitySpider
from spiders.pages import bluesky as pages
from spiders.pages.common import MalformedBody
from voxpop.core.timeutil import parse_datetime

CREATE_SESSION = "/xrpc/com.atproto.server.createSession"
REFRESH_SESSION = "/xrpc/com.atproto.server.refreshSession"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
LOGIN_HINT = "check BLUESKY_HANDLE and BLUESKY_APP_PASSWORD (an app password from Settings > App passwords)"
EXPIRED = ("ExpiredToken", "InvalidToken")


class BlueskySpider(CommunitySpider):
    """Posts matching a query (see the module docstring)."""

    name = "bluesky"
    default_base_url = "https://bsky.social"
    required_args = ("query",)
    required_env = ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.query = self.params["query"]
        self.key = f"search:{self.query}"
        self.session: dict[str, str] = {}
        self.since_param = ""

    # ---------------------------------------------------------------- requests

    def first_requests(self) -> Iterable[scrapy.Request]:
        cutoff = self.cutoff(self.key)
        self.since_param = cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if cutoff else ""
        yield self.login()

    def login(self, retry: scrapy.Request | None = None) -> scrapy.Request:
        payload = {"identifier": self.env["BLUESKY_HANDLE"], "password": self.env["BLUESKY_APP_PASSWORD"]}
        return scrapy.Request(self.base_url + CREATE_SESSION, method="POST", body=json.dumps(payload),
                              headers={"Content-Type": "application/json"}, callback=self.on_session,
                              errback=self.on_error, dont_filter=True,
                              meta={"handle_httpstatus_list": [400, 401, 403], "dont_obey_robotstxt": True,
                                    "retry_request": retry, "kind": "create"})

    def refresh(self, retry: scrapy.Request) -> scrapy.Request:
        return scrapy.Request(self.base_url + REFRESH_SESSION, method="POST", callback=self.on_session,
                              headers={"Authorization": f"Bearer {self.session.get('refreshJwt', '')}"},
                              errback=self.on_error, dont_filter=True,
                              meta={"handle_httpstatus_list": [400, 401, 403], "dont_obey_robotstxt": True,
                                    "retry_request": retry, "kind": "refresh"})

    def search(self, cursor: str | None = None) -> scrapy.Request:
        params = {"q": self.query, "limit": "100", "sort": "latest"}
        if self.since_param:
            params["since"] = self.since_param
        if cursor:
            params["cursor"] = cursor
        return scrapy.Request(f"{self.base_url}{SEARCH}?{urlencode(params)}", callback=self.on_search,
                              errback=self.on_error, dont_filter=True,
                              headers={"Authorization": f"Bearer {self.session.get('accessJwt', '')}"},
                              meta={"handle_httpstatus_list": [400, 401, 403, 429], "dont_obey_robotstxt": True})

    def with_token(self, request: scrapy.Request) -> scrapy.Request:
        """``request`` again with the current access token, marked as renewed."""
        retry = request.replace(dont_filter=True)
        retry.headers["Authorization"] = f"Bearer {self.session.get('accessJwt', '')}"
        retry.meta["renewed"] = True
        return retry

    def reset_wait(self, response: Response) -> float | None:
        """Seconds until ``RateLimit-Reset`` when the limit is used up (or on a 429), else None."""
        remaining = response.headers.get(b"RateLimit-Remaining")
        if response.status != 429 and (remaining is None or remaining.strip() != b"0"):
            return None
        reset = response.headers.get(b"RateLimit-Reset")
        try:
            return max(0.0, float(reset.decode()) - time.time()) if reset else 60.0
        except ValueError:
            return 60.0

    # ---------------------------------------------------------------- callbacks

    async def on_session(self, response: Response) -> AsyncIterator[Any]:
        retry = response.meta.get("retry_request")
        if response.status != 200:
            error, message = pages.parse_error(response.body)
            if response.meta["kind"] == "refresh" and retry is not None:
                yield self.login(retry)  # the refresh token expired too: log in again
                return
            self.auth_failed(response, f"{error or 'error'}: {message or 'no message'}; {LOGIN_HINT}")
        try:
            self.session = pages.parse_session(response.body)
        except MalformedBody as exc:
            self.auth_failed(response, f"{exc}; {LOGIN_HINT}")
            return
        self.info["sessions"] = self.info.get("sessions", 0) + 1
        yield self.with_token(retry) if retry is not None else self.search()

    async def on_search(self, response: Response) -> AsyncIterator[Any]:
        if response.status != 200:
            async for request in self.on_refused(response):
                yield request
            return
        page, retry = self.parse_or_retry(response, pages.parse_search, found_by=f"bluesky search:{self.query}")
        if page is None:
            if retry is not None:
                yield retry
            return
        if page.info.get("hitsTotal") is not None and "cursor=" not in response.url:
            self.record_total(page.info["hitsTotal"])
        reached_old = False
        for post in page.posts:
            indexed = parse_datetime(post["raw"].get("indexedAt") or post["created_at"])
            if self.is_old(indexed, self.key):
                reached_old = True
                continue
            self.mark_seen(indexed, self.key)
            yield self.community_post(post)
        if not page.next or reached_old or not page.info["count"]:
            self.mark_complete(self.key)
            return
        wait = self.reset_wait(response)
        if wait is not None and not await self.pause(wait, "RateLimit-Remaining is 0"):
            self.rate_limited += 1
            return
        yield self.search(page.next)

    async def on_refused(self, response: Response) -> AsyncIterator[Any]:
        """A non-200 search answer: renew an expired token, wait out a rate limit, or stop."""
        error, message = pages.parse_error(response.body)
        if response.status in (400, 401) and (error in EXPIRED or response.status == 401):
            if response.meta.get("renewed"):
                self.auth_failed(response, f"{error}: {message}; the renewed session was refused too; {LOGIN_HINT}")
            self.info["token_renewals"] = self.info.get("token_renewals", 0) + 1
            original = _request_of(response)
            yield self.refresh(original) if self.session.get("refreshJwt") else self.login(original)
            return
        if response.status == 403:
            self.auth_failed(response, f"{error}: {message}; {LOGIN_HINT}")
        if response.status == 429:
            wait = self.reset_wait(response) or 0.0
            tries = int(response.meta.get("rate_limit_tries", 0))
            if tries < 3 and await self.pause(wait, "429 until RateLimit-Reset"):
                retry = _request_of(response).replace(dont_filter=True)
                retry.meta["rate_limit_tries"] = tries + 1
                yield retry
                return
            self.rate_limited += 1
            self.cap_hit(f"rate limit: reset in {wait:.0f}s")
            return
        self.http_failed(response, f"searchPosts ({error}: {message})"[:200])


def _request_of(response: Response) -> scrapy.Request:
    if response.request is None:  # pragma: no cover - a callback's response always has its request
        raise RuntimeError("response without a request")
    return response.request
