"""Item pipelines: validate and normalise posts, then store them in batches and record the crawl run.

``NormalizePipeline`` turns whatever a spider yielded (a :class:`spiders.items.PostItem` or a dict
with the same keys) into the post contract, a :class:`voxpop.core.post.PostRecord`: HTML to text,
control characters stripped, whitespace collapsed, dates in UTC, language detected. A bad item is
dropped with a counted reason (``voxpop/dropped/<reason>`` in the stats, ``dropped_by_reason`` in the
run) and never stored half-way.

``StorePipeline`` upserts posts through ``store.repo.upsert_posts`` every ``VOXPOP_BATCH_SIZE``
items and at close, loads the source's high-water mark into the spider when the crawl opens, and
finishes the :class:`store.models.CrawlRun` with its figures when the spider closes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured

from spiders.health import STORE_ERROR_STAT, RunRecord, verdict_of
from spiders.items import PostItem
from voxpop.core.post import InvalidPost, PostRecord, validate_post

logger = logging.getLogger(__name__)

class Dropped(DropItem):
    """A dropped item with a short machine-readable reason (``missing_text``, ``bad_date``, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}", log_level="INFO")
        self.reason = reason


def normalize_item(item: Any, default_source: str = "", check_raw: bool = True) -> PostRecord:
    """Validate and normalise one post into the post contract; raise :class:`Dropped` with a reason.

    One conversion: the spider's :class:`PostItem` (or dict) goes through
    :func:`voxpop.core.post.validate_post`, the validator ``voxpop import`` uses too.
    ``check_raw=False`` skips serialising ``raw`` to prove it is JSON (the writer finds such posts
    itself when a batch fails, which keeps the common path fast).
    """
    if isinstance(item, PostItem):
        data: Mapping[str, Any] = item.__dict__
    elif isinstance(item, dict):
        data = item
    else:
        raise Dropped("not_a_post", f"unexpected item type {type(item).__name__}")
    get = data.get
    try:
        return validate_post(
            source=get("source") or default_source, external_id=get("external_id", ""), text=get("text", ""),
            text_format=get("text_format") or "text", url=get("url"), author=get("author"), title=get("title"),
            rating=get("rating"), created_at=get("created_at"), version=get("version"), language=get("language"),
            found_by=get("found_by"), raw=get("raw"), products=get("products"), check_raw=check_raw)
    except InvalidPost as exc:
        raise Dropped(exc.reason, exc.detail) from None


class NormalizePipeline:
    """Validate and normalise items; drop bad ones with a counted reason."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> PostRecord:
        spider = self.crawler.spider
        try:
            return normalize_item(item, default_source=getattr(spider, "name", ""), check_raw=False)
        except Dropped as exc:
            self.crawler.stats.inc_value(f"voxpop/dropped/{exc.reason}")  # the run's dropped_by_reason
            raise


def _dropped_by_reason(stats: Mapping[str, Any]) -> dict[str, int]:
    prefix = "voxpop/dropped/"
    return {key[len(prefix):]: int(value) for key, value in stats.items() if key.startswith(prefix) and value}


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
        self.buffer: list[PostRecord] = []
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

    def process_item(self, item: PostRecord) -> PostRecord:
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self._flush_in_background()
        return item

    def _take_rows(self) -> list[PostRecord]:
        batch, self.buffer = self.buffer, []
        return batch

    def _account(self, batch_size: int, result: tuple[int, int, int] | None, error: str | None,
                 bad_raw: int = 0) -> None:
        """Add a written batch's counts (on the reactor thread)."""
        if bad_raw:
            self.crawler.stats.inc_value("voxpop/dropped/bad_raw", bad_raw)
            batch_size -= bad_raw
        if error is not None:
            self.store_errors += batch_size
            self.store_error = error
            self.crawler.stats.set_value(STORE_ERROR_STAT, error)
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
        self.crawler.stats.inc_value("voxpop/unchanged", unchanged)
        self.crawler.stats.inc_value("voxpop/batches")
        dropped = sum(_dropped_by_reason(self.crawler.stats.get_stats()).values())
        logger.info("voxpop progress: %d stored, %d updated, %d unchanged, %d dropped", self.stored, self.updated,
                    self.unchanged, dropped)

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
        """The run's status and reason (the crawl-health verdict) and its statistics."""
        spider = self.crawler.spider
        stats = dict(self.crawler.stats.get_stats())
        record = RunRecord.of(spider)
        figures: dict[str, Any] = {
            "pages": record.pages,
            "malformed_pages": record.malformed_pages,
            "malformed_skipped": record.malformed_given_up,
            "requests": int(stats.get("downloader/request_count", 0)),
            "responses": int(stats.get("downloader/response_count", 0)),
            "http_status": _status_counts(stats),
            "retries": int(stats.get("retry/count", 0)),
            "retry_after_honoured": int(stats.get("voxpop/retry_after_honoured", 0)),
            "robots_forbidden": int(stats.get("robotstxt/forbidden", 0)),
            "errors": list(record.errors),
            "error_count": record.error_count,
            "dropped_by_reason": _dropped_by_reason(stats),
            "unchanged": self.unchanged,
            "caps_hit": list(record.caps_hit),
            "finish_reason": reason,
            "duration_s": round(time.monotonic() - self.started, 3),
            "items_scraped": int(stats.get("item_scraped_count", 0)),
            "store_s": round(self.store_seconds, 3),
        }
        totals = dict(record.reported_total)
        if totals:
            figures["reported_total"] = totals["default"] if list(totals) == ["default"] else totals
        figures.update(record.info or {})
        if self.config_error:
            figures["config_error"] = self.config_error
        verdict = verdict_of(self.crawler, spider, reason)
        return verdict.status, verdict.reason, figures

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
