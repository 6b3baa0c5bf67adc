"""One crawl shared by several crawl workers: a Redis request frontier and duplicate filter (scrapy-redis).

Switched on by ``VOXPOP_REDIS_URL`` (``[crawl].redis_url`` in voxpop.toml; ``voxpop run`` and
``voxpop worker`` export it to their crawl processes). Every ``scrapy crawl`` of the same source in
the same *round* then pushes its requests to, and pops them from, one Redis queue, and one Redis
set remembers which requests were already scheduled, so each page is fetched once however many
workers join. A round is one slot of the source's schedule (``every_minutes``): workers that start
the same source in the same slot share it, the next slot starts a fresh frontier (an incremental
crawl must fetch the first pages again). Keys expire on their own after ``VOXPOP_FRONTIER_TTL_S``.

Start requests of a spider are filtered too (Scrapy marks them ``dont_filter``), so the second
worker of a round does not fetch the first pages again; retries are never filtered. Each worker
fetches ``robots.txt`` for itself.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

log = logging.getLogger(__name__)

REDIS_URL_ENV = "VOXPOP_REDIS_URL"
KEY_PREFIX = "voxpop:frontier"
DEFAULT_TTL_S = 2 * 24 * 3600
DEFAULT_SHARED_IDLE_S = 6.0


def crawl_round(every_minutes: int, now: float | None = None) -> str:
    """The schedule slot a crawl started at ``now`` belongs to (workers in one slot share a frontier)."""
    seconds = max(60, int(every_minutes) * 60)
    return str(int((time.time() if now is None else now) // seconds))


def _key_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", value)[:100]


def frontier_key(spider: str, product: str, source: str, round_id: str) -> str:
    """The Redis key prefix of one source's frontier in one round."""
    return ":".join([KEY_PREFIX, _key_part(spider), _key_part(product), _key_part(source), _key_part(round_id)])


def distributed_settings(redis_url: str | None, round_id: str | None = None,
                         base_extensions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Scrapy settings that put a crawl on the shared frontier (empty when ``redis_url`` is unset)."""
    if not redis_url:
        return {}
    settings: dict[str, Any] = {
        "SCHEDULER": "spiders.distributed.SharedScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_PERSIST": True,  # other workers may still be on this round; keys expire instead
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor on an empty queue
        "REDIS_URL": redis_url,
        # A worker takes from the shared queue only what it can fetch now, so other workers find work.
        "CONCURRENT_REQUESTS": 2,
        "EXTENSIONS": {**dict(base_extensions or {}), "spiders.distributed.SharedIdle": 500},
    }
    if round_id is not None:
        settings["VOXPOP_CRAWL_ROUND"] = round_id
    return settings


class SharedScheduler(Scheduler):
    """The scrapy-redis scheduler with per-source, per-round keys and filtered start requests."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedScheduler:
        instance = super().from_crawler(crawler)
        instance.crawler = crawler
        return instance

    def open(self, spider: Any) -> None:
        settings = self.crawler.settings
        round_id = settings.get("VOXPOP_CRAWL_ROUND") or crawl_round(settings.getint("VOXPOP_EVERY_MINUTES", 360))
        prefix = frontier_key(spider.name, getattr(spider, "product_slug", "") or "-",
                              getattr(spider, "source_name", "") or spider.name, str(round_id))
        self.frontier_prefix = prefix
        self.queue_key = f"{prefix}:requests"
        self.dupefilter_key = f"{prefix}:seen"
        self.activity_key = f"{prefix}:active"
        self.ttl_s = settings.getint("VOXPOP_FRONTIER_TTL_S", DEFAULT_TTL_S)
        self._pushes = 0
        self.df = RFPDupeFilter(self.server, key=self.dupefilter_key, debug=settings.getbool("DUPEFILTER_DEBUG"))
        super().open(spider)
        self.touch()
        spider.logger.info("shared frontier %s (%d requests queued)", prefix, len(self.queue))

    def touch(self) -> None:
        """Note activity on this round (other idle workers wait while it is recent) and refresh expiry."""
        pipe = self.server.pipeline()
        pipe.set(self.activity_key, f"{time.time():.3f}", ex=self.ttl_s)
        pipe.expire(self.queue_key, self.ttl_s)
        pipe.expire(self.dupefilter_key, self.ttl_s)
        pipe.execute()

    def last_activity(self) -> float:
        """When any worker of this round last scheduled a request (epoch seconds; 0 if never)."""
        value = self.server.get(self.activity_key)
        return float(value) if value else 0.0

    def enqueue_request(self, request: Any) -> bool:
        if request.dont_filter and request.meta.get("is_start_request") and not request.meta.get("retry_times"):
            request = request.replace(dont_filter=False)  # the round's first pages: fetched by one worker
        added = bool(super().enqueue_request(request))
        if added:
            self._pushes += 1
            if self._pushes % 20 == 1:
                self.touch()
            else:
                self.server.set(self.activity_key, f"{time.time():.3f}", ex=self.ttl_s)
        return added

    def close(self, reason: str) -> None:
        try:
            self.touch()
        finally:
            super().close(reason)


class SharedIdle:
    """Keeps an idle worker open a little while another worker of the round is still producing requests."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.idle_s = crawler.settings.getfloat("VOXPOP_SHARED_IDLE_S", DEFAULT_SHARED_IDLE_S)
        self.poll_s = crawler.settings.getfloat("VOXPOP_SHARED_POLL_S", 0.5)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedIdle:
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        return extension

    def spider_idle(self, spider: Any) -> None:
        scheduler = getattr(self.crawler.engine, "scheduler", None)
        if not isinstance(scheduler, SharedScheduler):
            return
        quiet_for = time.time() - scheduler.last_activity()
        if quiet_for < self.idle_s:
            # Look at the queue again soon rather than at the engine's next 5 s heartbeat.
            nextcall = getattr(getattr(self.crawler.engine, "_slot", None), "nextcall", None)
            if nextcall is not None:
                nextcall.schedule(self.poll_s)
            raise DontCloseSpider(f"the shared frontier was active {quiet_for:.1f}s ago")


def frontier_sizes(redis_url: str) -> dict[str, int]:
    """Queued requests per shared frontier (``voxpop status``)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        sizes: dict[str, int] = {}
        for key in client.scan_iter(f"{KEY_PREFIX}:*:requests", count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            sizes[name[len(KEY_PREFIX) + 1:-len(":requests")]] = int(str(client.zcard(name)))
        return sizes
    finally:
        client.close()
