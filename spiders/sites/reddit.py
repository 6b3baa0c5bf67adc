"""Reddit: new posts (or search results) of subreddits and their comments, through the OAuth API.

``scrapy crawl reddit -a product=SLUG -a subreddits=notetaking,productivity [-a query=notely]
[-a comments=1] [-a comments_max=50] [-a more_max=20] [-a also=jotter] [-a base_url=...] [-a auth_url=...]``

Anonymous ``.json`` pages answer 403, so the spider first gets an application-only token
(``grant_type=client_credentials``, basic auth with ``REDDIT_CLIENT_ID`` / ``REDDIT_CLIENT_SECRET``),
then reads ``/r/{sub}/new`` (or ``/r/{sub}/search?q=...&restrict_sr=1&sort=new``) newest first,
paging with ``after`` until it reaches its high-water mark, and the comment tree of each new post
that has comments (``comments_max`` posts at most); ``more`` stubs are expanded through
``/api/morechildren`` up to ``more_max`` requests a crawl, the rest counted. ``X-Ratelimit-Remaining`` /
``X-Ratelimit-Reset`` are obeyed: at zero remaining the next request waits for the reset.
An expired token (401) is renewed once; a refused one ends the crawl with a message.
The OAuth API is governed by Reddit's API terms, not robots.txt, so robots.txt is not consulted.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from spiders.community import CommunitySpider
from spiders.pages import reddit as pages
from spiders.pages.common import MalformedBody
from voxpop.core.timeutil import parse_datetime

TOKEN_PATH = "/api/v1/access_token"
CREDENTIALS_HINT = "check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET (a Reddit 'script' or 'web' app)"


class RedditSpider(CommunitySpider):
    """Posts and comments of subreddits (see the module docstring)."""

    name = "reddit"
    default_base_url = "https://oauth.reddit.com"
    required_args = ("subreddits",)
    required_env = ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auth_url = (self.params.get("auth_url") or "https://www.reddit.com").rstrip("/")
        self.subreddits = [s.strip().removeprefix("r/") for s in self.params["subreddits"].split(",") if s.strip()]
        self.query = self.params.get("query") or ""
        self.want_comments = self.params.get("comments", "1") not in ("0", "false", "no")
        self.comments_max = int(self.params.get("comments_max") or 50)  # posts whose comments are read
        self.more_max = int(self.params.get("more_max") or 20)  # /api/morechildren requests a crawl
        self.more_requests = 0
        self.token: str | None = None
        self.token_expires = 0.0
        self.pending: list[scrapy.Request] = []  # listing chains still to start, then comment requests
        self.comment_requests: list[scrapy.Request] = []

    # ---------------------------------------------------------------- requests

    def first_requests(self) -> Iterable[scrapy.Request]:
        yield self.token_request()

    def token_request(self, retry: scrapy.Request | None = None) -> scrapy.Request:
        """POST for an application-only token; ``retry`` is re-sent with the new token."""
        pair = f"{self.env['REDDIT_CLIENT_ID']}:{self.env['REDDIT_CLIENT_SECRET']}".encode()
        return scrapy.FormRequest(
            self.auth_url + TOKEN_PATH, formdata={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")},
            callback=self.on_token, errback=self.on_error, dont_filter=True,
            meta={"handle_httpstatus_list": [400, 401, 403], "dont_obey_robotstxt": True, "retry_request": retry},
        )

    def api(self, path: str, params: dict[str, str], callback: Any, **meta: Any) -> scrapy.Request:
        """An authenticated GET of the OAuth API."""
        url = f"{self.base_url}{path}?{urlencode({**params, 'raw_json': '1'})}"
        return scrapy.Request(url, callback=callback, errback=self.on_error, dont_filter=True,
                              headers={"Authorization": f"bearer {self.token}"},
                              meta={"handle_httpstatus_list": [401, 403, 404], "dont_obey_robotstxt": True, **meta})

    def listing_request(self, sub: str, after: str | None = None) -> scrapy.Request:
        params = {"limit": "100"}
        if self.query:
            path = f"/r/{sub}/search"
            params.update(q=self.query, restrict_sr="1", sort="new")
        else:
            path = f"/r/{sub}/new"
        if after:
            params["after"] = after
        return self.api(path, params, self.on_listing, sub=sub)

    def key_of(self, sub: str) -> str:
        """The high-water key of a subreddit listing (search results are kept apart)."""
        return f"r/{sub}" + (f"?q={self.query}" if self.query else "")

    def found_by(self, sub: str) -> str:
        return f"r/{sub}" + (f" search:{self.query}" if self.query else "")

    async def next_request(self, response: Response | None = None) -> AsyncIterator[scrapy.Request]:
        """Yield the next queued request, after any wait the last response's rate limit asks for."""
        if response is not None and not await self.obey_rate_limit(response):
            return
        if self.pending:
            request = self.pending.pop(0)
        elif self.comment_requests:
            request = self.comment_requests.pop(0)
        else:
            return
        if time.monotonic() > self.token_expires - 60:
            yield self.token_request(retry=request)  # renew a token about to expire first
            return
        request.headers["Authorization"] = f"bearer {self.token}"  # queued before a renewal, perhaps
        yield request

    async def obey_rate_limit(self, response: Response) -> bool:
        """Wait for the reset when ``X-Ratelimit-Remaining`` is used up; False when that is too long."""
        remaining = _number(response.headers.get(b"X-Ratelimit-Remaining"))
        reset = _number(response.headers.get(b"X-Ratelimit-Reset"))
        if remaining is not None:
            self.info["ratelimit_remaining"] = remaining
        if remaining is not None and remaining < 1 and reset is not None:
            if not await self.pause(reset, "X-Ratelimit-Remaining is 0"):
                self.rate_limited += 1
                self.pending.clear()
                self.comment_requests.clear()
                return False
        return True

    # ---------------------------------------------------------------- callbacks

    async def on_token(self, response: Response) -> AsyncIterator[Any]:
        if response.status != 200:
            self.auth_failed(response, CREDENTIALS_HINT)
        try:
            self.token, lifetime = pages.parse_token(response.body)
        except MalformedBody as exc:
            self.auth_failed(response, f"{exc}; {CREDENTIALS_HINT}")
            return
        self.token_expires = time.monotonic() + lifetime
        retry = response.meta.get("retry_request")
        if retry is not None:
            yield retry.replace(headers={**_plain_headers(retry), "Authorization": f"bearer {self.token}"},
                                meta={**retry.meta, "reauthorized": True})
            return
        self.pending = [self.listing_request(sub) for sub in self.subreddits]
        async for request in self.next_request(response):
            yield request

    async def check_status(self, response: Response) -> AsyncIterator[scrapy.Request] | None:
        """None when the response is usable; else the requests that handle it (renewal, next chain)."""
        if response.status == 200:
            return None
        if response.status == 401 and not response.meta.get("reauthorized"):
            return _once(self.token_request(retry=response.request))
        if response.status == 401:
            self.auth_failed(response, "the renewed token was refused too; " + CREDENTIALS_HINT)
        self.http_failed(response, "a private, banned or missing subreddit or post")
        return self.next_request(response)

    async def on_listing(self, response: Response) -> AsyncIterator[Any]:
        handled = await self.check_status(response)
        if handled is not None:
            async for request in handled:
                yield request
            return
        sub = response.meta["sub"]
        key = self.key_of(sub)
        page, retry = self.parse_or_retry(response, pages.parse_listing, found_by=self.found_by(sub))
        if page is None:
            if retry is not None:
                yield retry
                return
            async for request in self.next_request(response):
                yield request
            return
        reached_old = False
        for post in page.posts:
            created = parse_datetime(post["created_at"])
            if self.before_since(created) or self.is_old(created, key):
                reached_old = True
                continue
            self.mark_seen(created, key)
            yield self.community_post(post)
            comments = post["raw"].get("num_comments") or 0
            if self.want_comments and comments:
                if len(self.comment_requests) < self.comments_max:
                    link_id = post["external_id"].removeprefix("t3_")
                    self.comment_requests.append(self.api(
                        f"/comments/{link_id}", {"limit": "500", "sort": "new"}, self.on_comments,
                        sub=sub, link=link_id))
                else:
                    self.cap_hit(f"comments read for at most comments_max={self.comments_max} posts")
        if page.next and not reached_old:
            self.pending.insert(0, self.listing_request(sub, after=page.next))
        else:
            self.mark_complete(key)
        async for request in self.next_request(response):
            yield request

    def expand_more(self, sub: str, link: str, info: dict[str, Any]) -> None:
        """Queue ``/api/morechildren`` for the ids of ``more`` stubs while the budget lasts; count the rest."""
        ids: list[str] = list(info.get("more_ids") or [])
        expanded = 0
        while ids and self.more_requests < self.more_max:
            chunk, ids = ids[:100], ids[100:]
            self.more_requests += 1
            expanded += len(chunk)
            self.comment_requests.insert(0, self.api(
                "/api/morechildren", {"api_type": "json", "link_id": f"t3_{link}", "children": ",".join(chunk)},
                self.on_comments, sub=sub, link=link, more=True))
        left = max(0, int(info.get("more") or 0) - expanded)
        if left:
            self.info["comments_not_expanded"] = self.info.get("comments_not_expanded", 0) + left
        if ids:
            self.cap_hit(f"'more' comments expanded with at most more_max={self.more_max} requests")

    async def on_comments(self, response: Response) -> AsyncIterator[Any]:
        handled = await self.check_status(response)
        if handled is not None:
            async for request in handled:
                yield request
            return
        sub = response.meta["sub"]
        parser = pages.parse_more_children if response.meta.get("more") else pages.parse_comments
        page, retry = self.parse_or_retry(response, parser, found_by=self.found_by(sub))
        if retry is not None:
            yield retry
            return
        if page is not None:
            self.expand_more(sub, response.meta["link"], page.info)
            for comment in page.posts:
                if not self.before_since(parse_datetime(comment["created_at"])):
                    yield self.community_post(comment)
        async for request in self.next_request(response):
            yield request


def _number(value: bytes | None) -> float | None:
    if not value:
        return None
    try:
        return float(value.decode("latin-1").strip())
    except ValueError:
        return None


def _plain_headers(request: scrapy.Request) -> dict[str, str]:
    return {k.decode("latin-1"): v[0].decode("latin-1") for k, v in request.headers.items() if v}


async def _once(request: scrapy.Request) -> AsyncIterator[scrapy.Request]:
    yield request
