"""Downloader middlewares: retries with backoff and ``Retry-After``; robots.txt for concurrent requests.

Replaces Scrapy's ``RetryMiddleware`` (same settings: ``RETRY_TIMES``, ``RETRY_HTTP_CODES``) and
adds ``RETRY_BACKOFF_BASE_S``, ``RETRY_BACKOFF_MAX_S`` and ``RETRY_AFTER_MAX_S``. A ``Retry-After``
longer than the cap is not waited for: the response goes on to the spider's errback, which records
that the rate limit ended that part of the crawl early.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as _ScrapyRobotsTxtMiddleware
from scrapy.http import Request, Response
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

RETRY_AFTER_STATUSES = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        from twisted.internet import reactor  # the crawler installed it; importing earlier would pick another

        await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))  # type: ignore[arg-type]


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry middleware with a wait before each retry (see the module docstring)."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE_S", 2.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX_S", 60.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX_S", 300.0)

    def _backoff(self, request: Request) -> float:
        attempt = int(request.meta.get("retry_times", 0)) + 1
        return min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = self._backoff(request)
        if response.status in RETRY_AFTER_STATUSES:
            advised = retry_after_seconds(response.headers.get(b"Retry-After"))
            if advised is not None:
                if advised > self.retry_after_max:
                    self.crawler.stats.inc_value("voxpop/retry_after_over_cap")
                    return response
                self.crawler.stats.inc_value("voxpop/retry_after_honoured")
                wait = advised
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        await _sleep(wait)
        return retry

    async def process_exception(self, request: Request,  # type: ignore[override]
                                exception: Exception) -> Request | Response | None:
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        if retry is not None:
            await _sleep(self._backoff(request))
        return retry


class RobotsTxtMiddleware(_ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, fixed for requests that wait on the same robots.txt download.

    In Scrapy 2.19 every request that arrives while ``robots.txt`` is being fetched awaits one shared
    ``Deferred``; only the first waiter receives the parser, the others receive ``None`` and are let
    through unchecked. Here a waiter that got ``None`` reads the parser the download stored.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return parser
