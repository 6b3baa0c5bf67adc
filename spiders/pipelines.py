"""Item pipelines: validate and normalise posts, then store them in batches and record the crawl run.

``NormalizePipeline`` turns whatever a spider yielded (a :class:`spiders.items.PostItem` or a dict
with the same keys) into a clean ``PostItem``: HTML to text, control characters stripped,
whitespace collapsed, dates in UTC, language detected. A bad item is dropped with a counted reason
(``voxpop/dropped/<reason>`` in the stats, ``dropped_by_reason`` in the run) and never stored half-way.

``StorePipeline`` upserts posts through ``store.repo.upsert_posts`` every ``VOXPOP_BATCH_SIZE``
items and at close, loads the source's high-water mark into the spider when the crawl opens, and
finishes the :class:`store.models.CrawlRun` with its figures when the spider closes.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured

from spiders.items import TEXT_FORMATS, PostItem
from voxpop.core.text import clean_text, detect_language, html_to_text
from voxpop.core.timeutil import parse_datetime

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
MAX_FIELD_CHARS = {"external_id": 300, "author": 300, "version": 100, "found_by": 300, "language": 10}


class Dropped(DropItem):
    """A dropped item with a short machine-readable reason (``missing_text``, ``bad_date``, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}", log_level="INFO")
        self.reason = reason


def json_safe(value: Any) -> bool:
    """Whether ``value`` serialises to JSON."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _as_item(item: Any) -> PostItem:
    if isinstance(item, PostItem):
        return item
    if isinstance(item, dict):
        return PostItem.from_dict(item)
    raise Dropped("not_a_post", f"unexpected item type {type(item).__name__}")


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Dropped(f"bad_{name}", f"{name} is {type(value).__name__}, expected text")
    text = clean_text(value).replace("\n", " ") if name != "title" else clean_text(value)
    limit = MAX_FIELD_CHARS.get(name)
    if limit and len(text) > limit:
        text = text[:limit]
    return text or None


def normalize_item(item: Any, default_source: str = "", check_raw: bool = True) -> PostItem:
    """Validate and normalise one post; raise :class:`Dropped` with a reason when it is unusable.

    ``check_raw=False`` skips serialising ``raw`` to prove it is JSON (the store pipeline finds
    such items itself when a batch fails, which keeps the common path fast).
    """
    post = _as_item(item)
    source = post.source or default_source
    if not source:
        raise Dropped("missing_source", "no source name")
    external_id = post.external_id
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        raise Dropped("missing_external_id", f"external_id is {external_id!r}")
    external_id = external_id.strip()[: MAX_FIELD_CHARS["external_id"]]
    if post.text_format not in TEXT_FORMATS:
        raise Dropped("bad_text_format", f"text_format {post.text_format!r}")
    if not isinstance(post.text, str):
        raise Dropped("bad_text", f"text is {type(post.text).__name__}")
    text = html_to_text(post.text) if post.text_format == "html" else clean_text(post.text)
    if not text:
        raise Dropped("missing_text", f"{source}/{external_id} has no text")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
    rating = post.rating
    if rating is not None:
        if isinstance(rating, str):
            try:
                rating = float(rating)
            except ValueError:
                raise Dropped("bad_rating", f"rating {rating!r}") from None
        if isinstance(rating, bool) or not isinstance(rating, int | float) or math.isnan(rating) \
                or not 1.0 <= float(rating) <= 5.0:
            raise Dropped("bad_rating", f"rating {rating!r} is not on the 1..5 scale")
        rating = float(rating)
    try:
        created_at = parse_datetime(post.created_at)
    except (ValueError, TypeError, OverflowError, OSError):
        raise Dropped("bad_date", f"created_at {str(post.created_at)[:60]!r}") from None
    url = post.url
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        url = None
    raw = post.raw
    if raw is not None and not isinstance(raw, dict):
        raw = {"value": raw}
    if raw is not None and check_raw and not json_safe(raw):
        raise Dropped("bad_raw", "raw payload is not JSON-serialisable")
    products = post.products or []
    if not isinstance(products, list | tuple) or not all(isinstance(p, str) for p in products):
        raise Dropped("bad_products", f"products {products!r}")
    language = _optional_text(post.language, "language") or detect_language(text)
    return replace(
        post, source=source, external_id=external_id, text=text, text_format="text",
        title=_optional_text(post.title, "title"), author=_optional_text(post.author, "author"),
        version=_optional_text(post.version, "version"), found_by=_optional_text(post.found_by, "found_by"),
        url=url, rating=rating, created_at=created_at, language=language, raw=raw, products=list(products),
    )


class NormalizePipeline:
    """Validate and normalise items; drop bad ones with a counted reason."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.dropped: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        pipeline = cls(crawler)
        crawler.voxpop_dropped = pipeline.dropped  # read by StorePipeline when the run is finished
        return pipeline

    def process_item(self, item: Any) -> PostItem:
        spider = self.crawler.spider
        try:
            return normalize_item(item, default_source=getattr(spider, "name", ""), check_raw=False)
        except Dropped as exc:
            self.dropped[exc.reason] += 1
            self.crawler.stats.inc_value(f"voxpop/dropped/{exc.reason}")
            raise


def _status_counts(stats: dict[str, Any]) -> dict[str, int]:
    prefix = "downloader/response_status_count/"
    return {key[len(prefix):]: int(value) for key, value in stats.items() if key.startswith(prefix)}


class StorePipeline:
    """Upsert posts in batches and record the crawl run (see the module docstring)."""

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.database_url: str = settings.get("VOXPOP_DATABASE_URL") or ""
        if not self.database_url:
            raise NotConfigured("StorePipeline: set VOXPOP_DATABASE_URL (or database_url in voxpop.toml)")
        self.batch_size = max(1, settings.getint("VOXPOP_BATCH_SIZE", 500))
        self.given_run_id = settings.getint("VOXPOP_CRAWL_RUN_ID", 0)
        self.config_error = settings.get("VOXPOP_CONFIG_ERROR") or ""
        self.buffer: list[PostItem] = []
        self.stored = self.updated = self.unchanged = 0
        self.store_errors = 0
        self.store_error: str | None = None
        self.product_id: int | None = None
        self.source_id: int | None = None
        self.run_id: int | None = None
        self.product_ids: dict[str, int | None] = {}
        self.started = time.monotonic()
        self.store: Any = None
        self.finished = False
        # Full batches are written beside the crawl, in order, by one writer started on the first
        # batch: a thread (default) or, with VOXPOP_WRITER=process, a helper process (spiders.writer).
        self.writer_kind = settings.get("VOXPOP_WRITER") or "thread"
        self.writer: Any = None
        self.pending: list[Any] = []  # Deferreds of batches handed to the writer
        self.store_seconds = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        from store.db import Store

        pipeline = cls(crawler)
        # Opened while the crawler is built, before the crawl starts. The runner migrated the
        # database before handing over a run id; a bare `scrapy crawl` checks (and migrates) here.
        pipeline.store = Store(pipeline.database_url, auto_migrate=not pipeline.given_run_id)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    # ---------------------------------------------------------------- open

    def open_spider(self) -> None:
        from store.models import CrawlRun
        from store.repo import ensure_product, ensure_source, get_product, start_crawl_run

        spider = self.crawler.spider
        self.started = time.monotonic()
        with self.store.transaction() as session:
            product = get_product(session, spider.product_slug) or ensure_product(session, spider.product_slug)
            source = ensure_source(session, product.id, spider.source_name, spider.name,
                                   None if _source_exists(session, product.id, spider.source_name)
                                   else dict(spider.params))
            self.product_id, self.source_id = product.id, source.id
            spider.high_water = dict(source.high_water or {})
            run = session.get(CrawlRun, self.given_run_id) if self.given_run_id else None
            if run is None:
                run = start_crawl_run(session, spider.name, spider.product_slug, source.id)
            elif run.source_id is None:
                run.source_id = source.id
            self.run_id = run.id
        self.product_ids[spider.product_slug] = self.product_id
        logger.info("voxpop: crawl run %s of %s/%s (high-water %s)", self.run_id, spider.product_slug,
                    spider.source_name, spider.high_water or "none: first crawl")

    # ---------------------------------------------------------------- items

    def process_item(self, item: PostItem) -> PostItem:
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self._flush_in_background()
        return item

    def _take_rows(self) -> list[dict[str, Any]]:
        batch, self.buffer = self.buffer, []
        return [{
            "source": item.source, "external_id": item.external_id, "text": item.text, "url": item.url,
            "author": item.author, "title": item.title, "rating": item.rating,
            "created_at": item.created_at if isinstance(item.created_at, datetime) else None,
            "version": item.version, "language": item.language, "found_by": item.found_by, "raw": item.raw,
            "products": list(item.products),
        } for item in batch]

    def _account(self, batch_size: int, result: tuple[int, int, int] | None, error: str | None,
                 bad_raw: int = 0) -> None:
        """Add a written batch's counts (on the reactor thread)."""
        if bad_raw:
            dropped = getattr(self.crawler, "voxpop_dropped", None)
            if dropped is not None:
                dropped["bad_raw"] += bad_raw
            self.crawler.stats.inc_value("voxpop/dropped/bad_raw", bad_raw)
            batch_size -= bad_raw
        if error is not None:
            self.store_errors += batch_size
            self.store_error = error
            self.crawler.stats.inc_value("voxpop/dropped/store_error", batch_size)
            logger.error("voxpop: could not store %d posts: %s", batch_size, error)
            return
        if result is None:
            return
        stored, updated, unchanged = result
        self.stored += stored
        self.updated += updated
        self.unchanged += unchanged
        self.crawler.stats.inc_value("voxpop/stored", stored)
        self.crawler.stats.inc_value("voxpop/updated", updated)
        self.crawler.stats.inc_value("voxpop/batches")

    def _flush_in_background(self) -> None:
        """Hand the buffer to the writer; batches are written in order while the crawl goes on."""
        from concurrent.futures import ThreadPoolExecutor

        from twisted.internet.threads import deferToThread

        from spiders.writer import ProcessWriter, write_batch

        rows = self._take_rows()
        if not rows or self.product_id is None:
            return
        started = time.monotonic()
        if self.writer_kind == "process":
            if self.writer is None:
                self.writer = ProcessWriter(self.database_url)
            future = self.writer.submit(self.product_id, self.source_id, rows)
        else:
            if self.writer is None:
                self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxpop-writer")
            future = self.writer.submit(write_batch, self.store, self.product_id, self.source_id, rows,
                                        self.product_ids)

        def done(outcome: tuple[Any, str | None, int]) -> None:
            self.store_seconds += time.monotonic() - started
            self._account(len(rows), *outcome)

        def failed(failure: Any) -> None:
            self._account(len(rows), None, f"store error: writer process: {failure.getErrorMessage()[:200]}")

        written = deferToThread(future.result).addCallbacks(done, failed)  # a thread that only waits
        self.pending.append(written)

    def flush(self) -> None:
        """Upsert the buffered posts now, in this thread (the last batch, or a crawl too small for a batch)."""
        from spiders.writer import write_batch

        rows = self._take_rows()
        if not rows or self.product_id is None:
            return
        started = time.monotonic()
        outcome = write_batch(self.store, self.product_id, self.source_id, rows, self.product_ids)
        self.store_seconds += time.monotonic() - started
        self._account(len(rows), *outcome)

    async def close_spider(self) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet.defer import DeferredList

        if self.pending:
            await maybe_deferred_to_future(DeferredList(self.pending))
            self.pending = []
        if self.writer is not None:
            (self.writer.close if hasattr(self.writer, "close") else self.writer.shutdown)()
            self.writer = None
        self.flush()

    # ---------------------------------------------------------------- close

    def run_figures(self, reason: str) -> tuple[str, str | None, dict[str, Any]]:
        """The run's status, reason and statistics from the spider and the crawler stats."""
        spider = self.crawler.spider
        stats = dict(self.crawler.stats.get_stats())
        dropped = dict(getattr(self.crawler, "voxpop_dropped", {}) or {})
        if self.store_errors:
            dropped["store_error"] = self.store_errors
        pages = getattr(spider, "pages", 0)
        malformed = getattr(spider, "malformed_pages", 0)
        errors = getattr(spider, "error_count", 0)
        figures: dict[str, Any] = {
            "pages": pages,
            "malformed_pages": malformed,
            "malformed_skipped": getattr(spider, "malformed_given_up", malformed),
            "requests": int(stats.get("downloader/request_count", 0)),
            "responses": int(stats.get("downloader/response_count", 0)),
            "http_status": _status_counts(stats),
            "retries": int(stats.get("retry/count", 0)),
            "retry_after_honoured": int(stats.get("voxpop/retry_after_honoured", 0)),
            "robots_forbidden": int(stats.get("robotstxt/forbidden", 0)),
            "errors": list(getattr(spider, "errors", [])),
            "error_count": errors,
            "dropped_by_reason": dropped,
            "unchanged": self.unchanged,
            "caps_hit": list(getattr(spider, "caps_hit", [])),
            "finish_reason": reason,
            "duration_s": round(time.monotonic() - self.started, 3),
            "items_scraped": int(stats.get("item_scraped_count", 0)),
            "store_s": round(self.store_seconds, 3),
        }
        totals = dict(getattr(spider, "reported_total", {}))
        if totals:
            figures["reported_total"] = totals["default"] if list(totals) == ["default"] else totals
        figures.update(getattr(spider, "info", {}) or {})
        if self.config_error:
            figures["config_error"] = self.config_error
        disabled = getattr(spider, "disabled_reason", None)
        if disabled:
            return "failed", disabled, figures
        if self.store_error and not (self.stored or self.updated or self.unchanged):
            return "failed", self.store_error, figures
        problems: list[str] = []
        if reason != "finished":
            problems.append(f"ended early: {reason}")
        if errors:
            failures = [e for e in spider.errors if not e["error"].startswith("malformed")]
            first = failures[0] if failures else {"error": "request failed", "url": ""}
            problems.append(f"{errors} request(s) failed, first: {first['error']} at {first['url']}")
        lost = getattr(spider, "malformed_given_up", malformed)
        if lost:
            problems.append(f"{lost} malformed page(s) skipped")
        forbidden = max(figures["robots_forbidden"], getattr(spider, "forbidden_by_robots", 0))
        if forbidden:
            problems.append(f"{forbidden} request(s) forbidden by robots.txt")
        if getattr(spider, "rate_limited", 0):
            problems.append("rate limit ended the crawl early")
        if self.store_error:
            problems.append(self.store_error)
        if not problems:
            return "ok", None, figures
        if pages == 0:
            return "failed", "; ".join(problems), figures
        return "partial", "; ".join(problems), figures

    def spider_closed(self, spider: Any, reason: str) -> None:
        from store.repo import finish_crawl_run

        if self.finished or self.run_id is None:
            return
        self.finished = True
        self.flush()
        status, why, figures = self.run_figures(reason)
        high_water = spider.next_high_water() if hasattr(spider, "next_high_water") else None
        if high_water is not None:
            figures["high_water"] = high_water
        try:
            with self.store.transaction() as session:
                from store.models import Source
                from store.repo import utcnow

                if high_water is not None and self.source_id is not None:
                    source = session.get(Source, self.source_id)
                    if source is not None and source.high_water != high_water:
                        source.high_water = high_water
                        source.updated_at = utcnow()
                dropped_total = sum(figures["dropped_by_reason"].values())
                finish_crawl_run(session, self.run_id, status=status, reason=why, stored=self.stored,
                                 updated=self.updated, dropped=dropped_total, stats=figures)
        finally:
            self.store.dispose()
        logger.info("voxpop: run %s %s: %d stored, %d updated, %d unchanged, %d dropped%s", self.run_id, status,
                    self.stored, self.updated, self.unchanged, sum(figures["dropped_by_reason"].values()),
                    f" ({why})" if why else "")


def _source_exists(session: Any, product_id: int, name: str) -> bool:
    from sqlalchemy import select

    from store.models import Source

    return session.scalar(select(Source.id).where(Source.product_id == product_id, Source.name == name)) is not None
