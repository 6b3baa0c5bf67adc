"""Scrapy settings of every voxpop crawl: polite by default, items stored in batches.

The database comes from ``VOXPOP_DATABASE_URL``, else from ``voxpop.toml`` (``config.load_config``);
the User-Agent names the configured contact URL. Tests and the runner override any of these with
``-s NAME=VALUE``.
"""

from __future__ import annotations

import os

from voxpop.config import DEFAULT_DATABASE_URL, Config, ConfigError, CrawlSpec, load_config

_CONFIG: Config | None
try:
    _CONFIG = load_config()
    _CONFIG_ERROR = ""
except ConfigError as exc:  # a broken config must not break `scrapy list`; the run records it
    _CONFIG = None
    _CONFIG_ERROR = str(exc)

BOT_NAME = "voxpop"
SPIDER_MODULES = ["spiders.sites"]
NEWSPIDER_MODULE = "spiders.sites"

VOXPOP_DATABASE_URL = os.environ.get("VOXPOP_DATABASE_URL") or (
    _CONFIG.database_url if _CONFIG else DEFAULT_DATABASE_URL)
VOXPOP_CONFIG_ERROR = _CONFIG_ERROR
VOXPOP_CONTACT_URL = _CONFIG.crawl.contact_url if _CONFIG else CrawlSpec.contact_url
VOXPOP_BACKFILL_DAYS = _CONFIG.crawl.backfill_days if _CONFIG else CrawlSpec.backfill_days
VOXPOP_SINCE = _CONFIG.crawl.since.isoformat() if _CONFIG and _CONFIG.crawl.since else ""
VOXPOP_BATCH_SIZE = 500  # posts per upsert transaction
VOXPOP_WRITER = "thread"  # who writes full batches beside the crawl: "thread" or "process" (spiders.writer)
VOXPOP_CRAWL_RUN_ID = 0  # set by spiders.runner: record into this CrawlRun instead of starting one

USER_AGENT = f"voxpop/0.1 (+{VOXPOP_CONTACT_URL})"
ROBOTSTXT_OBEY = True

# Politeness: few requests per host, adaptive delay, a per-request timeout.
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_TIMEOUT = 30
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Retries: 5xx, timeouts and 429, with exponential backoff; Retry-After honoured up to a cap.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE_S = 2.0  # wait base * 2**(attempt-1) before a retry without Retry-After
RETRY_BACKOFF_MAX_S = 60.0
RETRY_AFTER_MAX_S = 300.0  # a longer Retry-After ends that branch of the crawl (recorded as a cap hit)
HTTPERROR_ALLOW_ALL = False

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.middlewares.RobotsTxtMiddleware": 100,
}
ITEM_PIPELINES = {
    "spiders.pipelines.NormalizePipeline": 100,
    "spiders.pipelines.StorePipeline": 800,
}
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote-control extension runs Python sent over HTTP (token-protected, localhost):
# a crawler of untrusted sites has no use for it.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

# Several crawl workers share one frontier through Redis when VOXPOP_REDIS_URL (or [crawl].redis_url)
# is set: see spiders/distributed.py. Without it nothing changes.
from spiders.distributed import distributed_settings  # noqa: E402

_REDIS_URL = os.environ.get("VOXPOP_REDIS_URL") or (_CONFIG.crawl.redis_url if _CONFIG else None)
globals().update(distributed_settings(_REDIS_URL, base_extensions=EXTENSIONS))
