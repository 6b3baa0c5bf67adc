"""The base class of every voxpop spider: arguments, incremental state, errors and coverage figures.

A spider (``spiders/sites/<site>.py``) decides what to request and when to stop; parsing lives in
``spiders/pages/<site>.py``. This class gives every spider the same arguments
(``product``, ``source``, ``base_url``, ``since`` plus its own), the high-water mark loaded from the
store by :class:`spiders.pipelines.StorePipeline`, and one place to record what the crawl run
reports: pages parsed, malformed bodies, errors, ``reported_total`` and every cap hit.

Subclasses set ``name``, ``default_base_url``, optionally ``required_args`` and ``required_env``,
and implement :meth:`first_requests`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from spiders.items import PostItem
from spiders.offsite import origins_of
from voxpop.config import CrawlSpec
from voxpop.core.timeutil import parse_datetime

T = TypeVar("T")


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)

MAX_ERRORS_KEPT = 20
COMMON_ARGS = ("product", "source", "base_url", "since")


class VoxpopSpider(scrapy.Spider):
    """Common behaviour of voxpop spiders (see the module docstring)."""

    name = "voxpop"
    default_base_url = ""
    required_args: tuple[str, ...] = ()
    required_env: tuple[str, ...] = ()  # variables the spider cannot work without (credentials)

    def __init__(self, product: str | None = None, source: str | None = None, base_url: str | None = None,
                 since: str | None = None, **kwargs: Any) -> None:
        params = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        if base_url:
            params["base_url"] = base_url
        super().__init__(**kwargs)
        if not product:
            raise ValueError(f"spider {self.name}: missing argument: -a product=SLUG")
        missing = [arg for arg in self.required_args if not params.get(arg)]
        if missing:
            raise ValueError(f"spider {self.name}: missing argument(s): "
                             + ", ".join(f"-a {arg}=..." for arg in missing))
        self.product_slug = product
        self.source_name = source or self.name
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        if self.base_url and not _is_http_url(self.base_url):
            raise ValueError(f"spider {self.name}: base_url must be an http:// or https:// URL, got {self.base_url!r}")
        self.params: dict[str, str] = {k: str(v) for k, v in params.items()}
        self.since_arg = since
        self.since: datetime | None = None  # resolved in from_crawler (needs settings)
        self.high_water: dict[str, Any] = {}  # loaded from the store when the crawl opens
        self.new_high_water: dict[str, Any] = {}
        self.completed_keys: set[str] = set()
        self.disabled_reason: str | None = None
        self.pages = 0
        self.malformed_pages = 0
        self.malformed_given_up = 0
        self.malformed_retries = 1
        self.errors: list[dict[str, str]] = []
        self.error_count = 0
        self.forbidden_by_robots = 0
        self.rate_limited = 0
        self.offsite_redirects = 0
        self.oversize_skipped = 0
        self.reported_total: dict[str, int] = {}
        self.caps_hit: list[str] = []
        self.info: dict[str, Any] = {}  # anything else worth keeping in the run's stats
        self.env: dict[str, str] = {}
        for variable in self.required_env:
            value = os.environ.get(variable)
            if value:
                self.env[variable] = value
            elif self.disabled_reason is None:
                self.disabled_reason = f"disabled: environment variable {variable} is not set"

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> VoxpopSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.since = spider._resolve_since(crawler.settings)
        return spider

    def _resolve_since(self, settings: Any) -> datetime:
        value = self.since_arg or settings.get("VOXPOP_SINCE") or ""
        if value:
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed
        days = settings.getint("VOXPOP_BACKFILL_DAYS", CrawlSpec.backfill_days)
        return datetime.now(UTC) - timedelta(days=days)

    # ---------------------------------------------------------------- requests

    async def start(self) -> AsyncIterator[Any]:
        """Yield :meth:`first_requests` unless the spider is disabled (the run records why)."""
        if self.disabled_reason:
            self.logger.error("%s: %s", self.name, self.disabled_reason)
            return
        for request in self.first_requests():
            yield request

    def allowed_hosts(self) -> set[str]:
        """Hosts a redirect may lead to: the base URL's host and its ``www.`` twin (subdomains too),
        plus :meth:`extra_urls`."""
        hosts: set[str] = set()
        for url in [self.base_url or self.default_base_url, *self.extra_urls()]:
            host = (urlsplit(url).hostname or "").lower()
            if host:
                hosts.add(host)
                hosts.add(host.removeprefix("www."))
        return hosts

    def allowed_origins(self) -> set[tuple[str, str, int]]:
        """Origins (scheme, host, port) a redirect may lead to: the base URL's and its ``www.`` twin, plus
        those of :meth:`extra_urls` (see :mod:`spiders.offsite`)."""
        return origins_of([self.base_url or self.default_base_url, *self.extra_urls()])

    def extra_urls(self) -> list[str]:
        """Other URLs the spider's arguments name (their hosts are the source's too)."""
        return []

    def first_requests(self) -> Iterable[scrapy.Request]:
        """The requests a crawl starts with."""
        raise NotImplementedError

    def request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        """A request whose failures are recorded by :meth:`on_error`."""
        kwargs.setdefault("errback", self.on_error)
        return scrapy.Request(url, callback=callback, **kwargs)

    def on_error(self, failure: Failure) -> None:
        """Record a request that failed for good (after retries): HTTP error, robots.txt, network."""
        request = getattr(failure, "request", None)
        url = request.url if request is not None else ""
        exc = failure.value
        if exc.__class__.__name__ == "OffsiteRedirectRefused":
            message = str(exc)  # counted by the middleware
        elif exc.__class__.__name__ == "DownloadCancelledError" and "max size" in str(exc).lower():
            self.oversize_skipped += 1
            self.crawler.stats.inc_value("voxpop/oversize_skipped")
            size = self.crawler.settings.getint("DOWNLOAD_MAXSIZE") if getattr(self, "crawler", None) else 0
            self.logger.warning("%s: skipped %s: response larger than DOWNLOAD_MAXSIZE (%d bytes)", self.name, url,
                                size)
            return
        elif isinstance(exc, HttpError):
            status = exc.response.status
            message = f"HTTP {status}"
            if status == 429:
                self.rate_limited += 1
                self.cap_hit(f"rate limit ended crawl early ({url})")
        elif exc.__class__.__name__ == "IgnoreRequest" and "robots" in str(exc).lower():
            self.forbidden_by_robots += 1  # recorded in the run from the robots.txt stats
            return
        else:
            message = f"{exc.__class__.__name__}: {exc}"[:300]
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"url": url, "error": message})
        self.logger.warning("%s: %s failed: %s", self.name, url, message)

    # ---------------------------------------------------------------- incremental state

    def high_water_of(self, key: str = "") -> Any:
        """The stored high-water value of ``key`` (None on a first crawl)."""
        return self.high_water.get(key or "default")

    def cutoff(self, key: str = "") -> datetime | None:
        """Posts older than this were stored before (high-water mark) or lie before ``since``."""
        stored = self.high_water_of(key)
        if stored:
            try:
                return parse_datetime(stored)
            except ValueError:
                return self.since
        return self.since

    def is_old(self, created_at: datetime | None, key: str = "") -> bool:
        """Whether a post is at or before the cutoff (dateless posts are never old)."""
        limit = self.cutoff(key)
        return created_at is not None and limit is not None and created_at <= limit

    def before_since(self, created_at: datetime | None) -> bool:
        """Whether a post lies before the backfill window (skip it)."""
        return created_at is not None and self.since is not None and created_at < self.since

    def emit_new(self, posts: Iterable[dict[str, Any]], key: str = "") -> Generator[PostItem, None, bool]:
        """Yield items for the posts inside the backfill window, noting their dates for the high-water mark.

        Returns (through ``yield from``) whether a post already held by an earlier crawl was reached,
        which is where an incremental crawl stops.
        """
        reached_old = False
        for fields in posts:
            created = fields["created_at"]
            if self.is_old(created, key):
                reached_old = True
            if self.before_since(created):
                continue
            self.mark_seen(created, key)
            yield self.post(**fields)
        return reached_old

    def mark_seen(self, created_at: datetime | None, key: str = "") -> None:
        """Remember the newest post date of ``key`` for the next high-water mark."""
        if created_at is None:
            return
        key = key or "default"
        current = self.new_high_water.get(key)
        if current is None or created_at > current:
            self.new_high_water[key] = created_at

    def set_high_water(self, value: Any, key: str = "") -> None:
        """Set the next high-water value of ``key`` directly (ids, cursors)."""
        self.new_high_water[key or "default"] = value

    def mark_complete(self, key: str = "") -> None:
        """Say that ``key`` was crawled to its natural end, so its high-water mark may advance."""
        self.completed_keys.add(key or "default")

    def next_high_water(self) -> dict[str, Any]:
        """The high-water marks to store: advanced only for keys crawled to their end."""
        merged = dict(self.high_water)
        for key in self.completed_keys:
            value = self.new_high_water.get(key)
            if value is None:
                continue
            if isinstance(value, datetime):
                old = merged.get(key)
                try:
                    old_dt = parse_datetime(old) if old else None
                except ValueError:
                    old_dt = None
                if old_dt is not None and old_dt >= value:
                    continue
                value = value.astimezone(UTC).isoformat()
            elif isinstance(value, int) and isinstance(merged.get(key), int):
                value = max(value, merged[key])
            merged[key] = value
        return merged

    # ---------------------------------------------------------------- figures for the run

    def count_page(self) -> None:
        """Count one response parsed successfully."""
        self.pages += 1

    def malformed(self, response: Response, exc: BaseException) -> None:
        """Log and count a body that could not be parsed; the crawl goes on."""
        self.malformed_pages += 1
        self.malformed_given_up += 1
        self.crawler.stats.inc_value("voxpop/malformed_pages")
        message = f"malformed body: {exc.__class__.__name__}: {exc}"[:300]
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"url": response.url, "error": message})
        self.logger.warning("%s: %s: %s", self.name, response.url, message)

    def parse_or_retry(self, response: Response, parser: Callable[..., T], *args: Any,
                       **kwargs: Any) -> tuple[T | None, scrapy.Request | None]:
        """Parse a response body with ``parser(body, *args)`` and count the page.

        A malformed body (``ValueError``) is logged and counted; the result is then None, with at
        most one retry request to yield (a truncated answer is often a passing glitch).
        """
        try:
            result = parser(response.body, *args, **kwargs)
        except ValueError as exc:
            return None, self.retry_malformed(response, exc)
        self.count_page()
        return result, None

    def retry_malformed(self, response: Response, exc: BaseException) -> scrapy.Request | None:
        """Count a malformed body and ask for it once more (a passing glitch); None once given up.

        Use in a callback as ``retry = self.retry_malformed(response, exc)``, then yield it when not
        None, and return. A body still malformed on the second try is counted as given up, which
        makes the run ``partial``.
        """
        self.malformed(response, exc)
        tries = int(response.meta.get("voxpop_malformed_tries", 0))
        if tries >= self.malformed_retries or response.request is None:
            return None
        self.malformed_given_up -= 1  # not given up yet: asked again
        self.crawler.stats.inc_value("voxpop/malformed_retried")
        return response.request.replace(dont_filter=True,
                                        meta={**response.request.meta, "voxpop_malformed_tries": tries + 1})

    def record_total(self, total: int | None, key: str = "") -> None:
        """Record how many posts the source says it has (``reported_total`` in the run stats)."""
        if total is not None:
            self.reported_total[key or "default"] = int(total)

    def cap_hit(self, description: str) -> None:
        """Record a limit that kept the crawl from seeing everything (page caps, rate limits)."""
        if description not in self.caps_hit:
            self.caps_hit.append(description)
            self.logger.info("%s: cap hit: %s", self.name, description)

    def disable(self, reason: str) -> None:
        """Switch the spider off with a reason the run records (e.g. a missing credential)."""
        self.disabled_reason = reason

    def post(self, **fields: Any) -> PostItem:
        """A :class:`PostItem` of this spider's source."""
        fields.setdefault("source", self.name)
        return PostItem.from_dict(fields)
