"""GitHub: the issues of a repository (pull requests left out) and, optionally, their comments.

``scrapy crawl github -a product=SLUG -a repo=owner/name [-a comments=1] [-a also=...]``

``/repos/{owner}/{repo}/issues?state=all&per_page=100&since=...`` paged by the ``Link`` header;
``since`` is the newest ``updated_at`` seen before, so edited issues come back and are updated.
With ``comments=1`` the comments of each issue that has some are read too (``.../comments?since=``).
``GITHUB_TOKEN`` is sent when set (60 requests an hour without it). Rate limits are obeyed:
when ``X-RateLimit-Remaining`` reaches 0 (or a 403/429 says so) the spider waits until
``X-RateLimit-Reset`` (or ``Retry-After``) when that is within ``max_wait_s``, else it stops cleanly
and records the cap. The REST API is governed by GitHub's API terms, not robots.txt.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy.http import Response

from spiders.community import CommunitySpider
from spiders.middlewares import retry_after_seconds
from spiders.pages import github as pages
from spiders.pages.community import parse_link_header
from voxpop.core.timeutil import parse_datetime

MAX_RATE_LIMIT_RETRIES = 3


class GitHubSpider(CommunitySpider):
    """Issues (and comments) of one repository (see the module docstring)."""

    name = "github"
    default_base_url = "https://api.github.com"
    required_args = ("repo",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repo = self.params["repo"].strip().strip("/")
        if self.repo.count("/") != 1:
            raise ValueError(f"spider github: -a repo must be owner/name, got {self.repo!r}")
        self.want_comments = self.params.get("comments", "0") in ("1", "true", "yes")
        self.token = os.environ.get("GITHUB_TOKEN") or ""
        self.key = f"issues:{self.repo}"
        self.since_param = ""
        self.comment_queue: list[scrapy.Request] = []
        self.issues_done = False

    def first_requests(self) -> Iterable[scrapy.Request]:
        cutoff = self.cutoff(self.key)
        if cutoff is not None and self.high_water_of(self.key):
            cutoff += timedelta(seconds=1)  # ``since`` is inclusive: the newest issue was stored last time
        self.since_param = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ") if cutoff else ""
        params = {"state": "all", "per_page": "100"}
        if self.since_param:
            params["since"] = self.since_param
        yield self.api(f"{self.base_url}/repos/{self.repo}/issues?{urlencode(params)}", self.on_issues)

    def api(self, url: str, callback: Any, **meta: Any) -> scrapy.Request:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return scrapy.Request(url, callback=callback, errback=self.on_error, headers=headers, dont_filter=True,
                              meta={"handle_httpstatus_list": [401, 403, 404, 410, 429],
                                    "dont_obey_robotstxt": True, **meta})

    def rebase(self, url: str) -> str:
        """An API URL from a response (``comments_url``, ``Link``) on this crawl's base URL."""
        parts = urlsplit(url)
        return f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    # ---------------------------------------------------------------- rate limits

    def reset_wait(self, response: Response) -> float | None:
        """Seconds until the rate limit resets, when the response says none is left (else None)."""
        remaining = response.headers.get(b"X-RateLimit-Remaining")
        advised = retry_after_seconds(response.headers.get(b"Retry-After"))
        if advised is not None and response.status in (403, 429):
            return advised
        if response.status in (403, 429) and b"rate limit" in response.body[:500].lower() and (
                remaining is None or remaining.strip() != b"0"):
            return 60.0  # a secondary rate limit without Retry-After: GitHub asks for at least a minute
        if remaining is None or remaining.strip() != b"0":
            return None
        reset = response.headers.get(b"X-RateLimit-Reset")
        try:
            return max(0.0, float(reset.decode()) - time.time()) if reset else 60.0
        except ValueError:
            return 60.0

    async def handle_status(self, response: Response) -> AsyncIterator[scrapy.Request] | None:
        """None for a usable 200; else what to do: retry after a rate-limit wait, or stop the branch."""
        if response.status == 200:
            return None
        if response.status == 401:
            self.auth_failed(response, "check GITHUB_TOKEN (unset it to crawl public repositories anonymously)")
        wait = self.reset_wait(response) if response.status in (403, 429) else None
        if wait is not None:
            self.rate_limited += 1
            tries = int(response.meta.get("rate_limit_tries", 0))
            if tries < MAX_RATE_LIMIT_RETRIES and await self.pause(wait, "GitHub rate limit"):
                assert response.request is not None
                retry = response.request.replace(dont_filter=True)
                retry.meta["rate_limit_tries"] = tries + 1
                self.rate_limited -= 1  # waited out: it did not end the crawl
                return _single(retry)
            self.cap_hit(f"GitHub rate limit: reset in {wait:.0f}s")
            return _nothing()
        self.http_failed(response, "the repository's issues (missing or private repository?)")
        return _nothing()

    async def next_after(self, response: Response, request: scrapy.Request | None) -> AsyncIterator[scrapy.Request]:
        """``request`` (or the next queued comment request) after any wait the rate limit asks for."""
        wait = self.reset_wait(response)
        if wait is not None and (request is not None or self.comment_queue):
            if not await self.pause(wait, "GitHub rate limit (X-RateLimit-Remaining is 0)"):
                self.rate_limited += 1
                return
        if request is not None:
            yield request
        elif self.comment_queue:
            yield self.comment_queue.pop(0)

    # ---------------------------------------------------------------- callbacks

    async def on_issues(self, response: Response) -> AsyncIterator[Any]:
        handled = await self.handle_status(response)
        if handled is not None:
            async for request in handled:
                yield request
            return
        page, retry = self.parse_or_retry(response, pages.parse_issues, found_by=f"github:{self.repo}")
        if page is None:
            if retry is not None:
                yield retry
            return
        self.info["pull_requests_skipped"] = self.info.get("pull_requests_skipped", 0) + page.info["pull_requests"]
        if page.info["newest_updated"]:
            self.mark_seen(parse_datetime(page.info["newest_updated"]), self.key)
        for post in page.posts:
            yield self.community_post(post)
        if self.want_comments:
            for url, number in page.info["with_comments"]:
                params = {"per_page": "100", **({"since": self.since_param} if self.since_param else {})}
                self.comment_queue.append(self.api(f"{self.rebase(url)}?{urlencode(params)}", self.on_comments,
                                                   number=number))
        following = parse_link_header(response.headers.get(b"Link")).get("next")
        if following:
            async for request in self.next_after(response, self.api(self.rebase(response.urljoin(following)),
                                                                    self.on_issues)):
                yield request
            return
        self.mark_complete(self.key)
        async for request in self.next_after(response, None):
            yield request

    async def on_comments(self, response: Response) -> AsyncIterator[Any]:
        handled = await self.handle_status(response)
        if handled is not None:
            async for request in handled:
                yield request
            return
        page, retry = self.parse_or_retry(response, pages.parse_comments, found_by=f"github:{self.repo}",
                                          number=response.meta["number"])
        if retry is not None:
            yield retry
            return
        if page is not None:
            for post in page.posts:
                yield self.community_post(post)
            following = parse_link_header(response.headers.get(b"Link")).get("next")
            if following:
                self.comment_queue.insert(0, self.api(self.rebase(response.urljoin(following)), self.on_comments,
                                                      number=response.meta["number"]))
        async for request in self.next_after(response, None):
            yield request


async def _single(request: scrapy.Request) -> AsyncIterator[scrapy.Request]:
    yield request


async def _nothing() -> AsyncIterator[scrapy.Request]:
    return
    yield  # pragma: no cover - makes this an async generator
