"""Scrapy settings of every voxpop crawl: polite by default, items stored in batches.

The crawl process reads no config file. ``spiders.runner`` starts it with this module named
explicitly (``SCRAPY_SETTINGS_MODULE``) and hands over the resolved config: the database and Redis
URLs as ``VOXPOP_DATABASE_URL`` / ``VOXPOP_REDIS_URL`` (the frontier settings below depend on the
latter) and the rest as ``-s NAME=VALUE`` (contact URL, User-Agent, backfill window). The defaults
here are the config dataclasses' own, so a bare ``scrapy crawl`` behaves like an empty voxpop.toml.
"""

from __future__ import annotations

import os

from voxpop.config import DEFAULT_DATABASE_URL, CrawlSpec

BOT_NAME = "voxpop"
SPIDER_MODULES = ["spiders.sites"]
NEWSPIDER_MODULE = "spiders.sites"

VOXPOP_DATABASE_URL = os.environ.get("VOXPOP_DATABASE_URL") or DEFAULT_DATABASE_URL
VOXPOP_CONFIG_ERROR = ""  # a config problem the caller found; the run records it as its failure
VOXPOP_CONTACT_URL = CrawlSpec.contact_url
VOXPOP_BACKFILL_DAYS = CrawlSpec.backfill_days
VOXPOP_SINCE = ""  # YYYY-MM-DD: a first crawl's backfill starts here instead of VOXPOP_BACKFILL_DAYS ago
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
    "spiders.health.CrawlHealth": 100,  # ok / partial / failed into the stats when the spider closes
}

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote-control extension runs Python sent over HTTP (token-protected, localhost):
# a crawler of untrusted sites has no use for it.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 15.0  # pages crawled so far, in the log the runner streams as progress
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

# Several crawl workers share one frontier through Redis when VOXPOP_REDIS_URL (the runner passes
# [crawl].redis_url so) is set: see spiders/distributed.py. Without it nothing changes.
from spiders.distributed import distributed_settings  # noqa: E402

_REDIS_URL = os.environ.get("VOXPOP_REDIS_URL") or CrawlSpec.redis_url
globals().update(distributed_settings(_REDIS_URL, base_extensions=EXTENSIONS))
