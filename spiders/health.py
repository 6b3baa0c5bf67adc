"""Crawl health (spidermon-like): one verdict per crawl, ok / partial / failed, from Scrapy's stats and a run record.

:class:`RunRecord` is the typed account a spider keeps of its crawl (pages parsed, failed requests,
caps hit, a switch-off reason, ...). :func:`assess` turns it, the stats Scrapy keeps and the store
figures (which the store pipeline puts into the stats) into a :class:`Verdict`. The :class:`CrawlHealth`
extension does that when the spider closes (after the pipelines' ``close_spider``, so the stats are
final) and leaves the verdict in the stats under ``voxpop/health``; the store pipeline records it in
the crawl run, and ``voxpop status`` shows failed and empty crawls.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

HEALTH_STAT = "voxpop/health"
STORE_ERROR_STAT = "voxpop/store_error"  # the first store error message (set by the store pipeline)


@dataclass
class RunRecord:
    """What a spider noticed during its crawl (read once from the spider by :meth:`of`)."""

    pages: int = 0
    malformed_pages: int = 0
    malformed_given_up: int = 0
    error_count: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    forbidden_by_robots: int = 0
    rate_limited: int = 0
    caps_hit: list[str] = field(default_factory=list)
    reported_total: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    disabled_reason: str | None = None

    @classmethod
    def of(cls, spider: Any) -> RunRecord:
        """The record of a spider; a spider that keeps none (not a voxpop spider) gives an empty one."""
        values = {name: getattr(spider, name) for name in cls.__dataclass_fields__ if hasattr(spider, name)}
        if "malformed_given_up" not in values:
            values["malformed_given_up"] = values.get("malformed_pages", 0)
        return cls(**values)


@dataclass(frozen=True)
class Verdict:
    """The crawl's status (``ok``, ``partial`` or ``failed``) and, unless ok, why."""

    status: str
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def assess(record: RunRecord, stats: dict[str, Any], finish_reason: str) -> Verdict:
    """Decide how a crawl went.

    failed: the spider was switched off, nothing could be stored, or no page was parsed at all
    (an empty crawl); partial: pages came in but requests failed, pages were malformed or skipped,
    robots.txt or a rate limit stopped part of it, the crawl ended early, or some batches failed to
    store; ok otherwise.
    """
    if record.disabled_reason:
        return Verdict("failed", record.disabled_reason)
    store_error = stats.get(STORE_ERROR_STAT)
    kept = sum(int(stats.get(f"voxpop/{k}", 0)) for k in ("stored", "updated", "unchanged"))
    if store_error and not kept:
        return Verdict("failed", str(store_error))
    problems: list[str] = []
    if finish_reason != "finished":
        problems.append(f"ended early: {finish_reason}")
    if record.error_count:
        failures = [e for e in record.errors if not e["error"].startswith("malformed")]
        first = failures[0] if failures else {"error": "request failed", "url": ""}
        problems.append(f"{record.error_count} request(s) failed, first: {first['error']} at {first['url']}")
    if record.malformed_given_up:
        problems.append(f"{record.malformed_given_up} malformed page(s) skipped")
    forbidden = max(int(stats.get("robotstxt/forbidden", 0)), record.forbidden_by_robots)
    if forbidden:
        problems.append(f"{forbidden} request(s) forbidden by robots.txt")
    if record.rate_limited:
        problems.append("rate limit ended the crawl early")
    if store_error:
        problems.append(str(store_error))
    if record.pages == 0 and not int(stats.get("item_scraped_count", 0)):
        return Verdict("failed", "; ".join(problems) or "empty crawl: no page was parsed")
    if problems:
        return Verdict("partial", "; ".join(problems))
    return Verdict("ok")


class CrawlHealth:
    """Scrapy extension: the crawl's verdict into the stats (``voxpop/health``) when the spider closes."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlHealth:
        from scrapy import signals

        extension = cls(crawler)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Any, reason: str) -> None:
        verdict = verdict_of(self.crawler, spider, reason)
        log = logger.warning if verdict.status != "ok" else logger.info
        log("voxpop: crawl health %s%s", verdict.status, f": {verdict.reason}" if verdict.reason else "")


def verdict_of(crawler: Any, spider: Any, reason: str) -> Verdict:
    """The crawl's verdict: the one :class:`CrawlHealth` left in the stats, else assessed now (and left there)."""
    stats = crawler.stats
    found = stats.get_value(HEALTH_STAT)
    if isinstance(found, dict):
        return Verdict(found["status"], found.get("reason"))
    verdict = assess(RunRecord.of(spider), dict(stats.get_stats()), reason)
    stats.set_value(HEALTH_STAT, verdict.as_dict())
    return verdict
