"""The crawl child's hand-over: explicit settings module, resolved config, and its error line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from spiders.runner import SETTINGS_MODULE, absolute_database_url, crawl_environment, crawl_settings, last_error_line
from voxpop.config import CrawlSpec


def test_relative_sqlite_url_is_made_absolute_against_the_callers_folder(tmp_path: Path) -> None:
    assert absolute_database_url("sqlite:///data/v.db", tmp_path) == f"sqlite:///{tmp_path}/data/v.db"
    assert absolute_database_url("sqlite:////abs/v.db", tmp_path) == "sqlite:////abs/v.db"
    pg = "postgresql+psycopg://u:secret@db:5432/vox"
    assert absolute_database_url(pg, tmp_path) == pg


def test_child_environment_carries_settings_module_database_and_configured_redis() -> None:
    inherited = {"VOXPOP_REDIS_URL": "redis://stale:6379/0", "SCRAPY_PROJECT": "other", "HOME": "/h"}
    env = crawl_environment("sqlite:////x/v.db", CrawlSpec(redis_url="redis://r:6379/2"), inherited)
    assert env["SCRAPY_SETTINGS_MODULE"] == SETTINGS_MODULE
    assert env["VOXPOP_DATABASE_URL"] == "sqlite:////x/v.db"
    assert env["VOXPOP_REDIS_URL"] == "redis://r:6379/2"
    assert "SCRAPY_PROJECT" not in env and env["HOME"] == "/h"
    assert "VOXPOP_REDIS_URL" not in crawl_environment("sqlite:////x/v.db", CrawlSpec(), inherited)
    assert crawl_environment("sqlite:////x/v.db", None, inherited)["VOXPOP_REDIS_URL"] == "redis://stale:6379/0"


def test_crawl_settings_come_from_the_resolved_config() -> None:
    settings = crawl_settings(CrawlSpec(contact_url="https://me.example/bot", backfill_days=7, since=date(2026, 1, 2)))
    assert settings == {"VOXPOP_CONTACT_URL": "https://me.example/bot", "USER_AGENT": "voxpop/0.1 (+https://me.example/bot)",
                        "VOXPOP_BACKFILL_DAYS": 7, "VOXPOP_SINCE": "2026-01-02"}


def test_last_error_line_names_the_error_and_what_it_happened_during() -> None:
    log = """2026-11-30 [scrapy.core.engine] INFO: Spider opened
2026-11-30 [asyncio] ERROR: Task exception was never retrieved
Traceback (most recent call last):
  File "x.py", line 1, in f
ConnectionRefusedError: [Errno 111] Connection refused
During handling of the above exception, another exception occurred:
redis.exceptions.ConnectionError: Error 111 connecting to 127.0.0.1:9. Connection refused.
During handling of the above exception, another exception occurred:
RuntimeError: Engine slot not assigned
2026-11-30 [scrapy.statscollectors] INFO: Dumping Scrapy stats:
{'log_count/ERROR': 1,
 'log_count/INFO': 9}""".splitlines()
    assert last_error_line(log) == ("RuntimeError: Engine slot not assigned (after redis.exceptions.ConnectionError: "
                                    "Error 111 connecting to 127.0.0.1:9. Connection refused.)")
    assert last_error_line(["Usage", "crawl: error: Unable to find spider: nope"]) == \
        "crawl: error: Unable to find spider: nope"
    assert last_error_line(["starting", "still going"]) == "still going"
    assert last_error_line([]) == "no output"


def test_spider_registry_is_scrapys_list_and_the_config_accepts_exactly_it() -> None:
    from spiders.registry import community_spiders, spider_names
    from voxpop.config import KNOWN_SPIDERS

    assert spider_names() == tuple(sorted(KNOWN_SPIDERS))  # config (below spiders) keeps a copy; this ties them
    assert community_spiders() == {"reddit", "hackernews", "stackexchange", "github", "mastodon", "bluesky"}


def test_crawl_health_verdicts() -> None:
    from spiders.health import STORE_ERROR_STAT, RunRecord, Verdict, assess

    done = {"item_scraped_count": 3, "downloader/response_count": 2, "voxpop/stored": 3}
    assert assess(RunRecord(pages=1), done, "finished") == Verdict("ok")
    assert assess(RunRecord(), {"downloader/response_count": 1}, "finished") == \
        Verdict("failed", "empty crawl: no page was parsed")
    assert assess(RunRecord(pages=1, disabled_reason="disabled: set TOKEN"), done, "finished") == \
        Verdict("failed", "disabled: set TOKEN")
    partial = assess(RunRecord(pages=2, error_count=1, errors=[{"url": "http://x/2", "error": "HTTP 500"}]), done,
                     "finished")
    assert partial == Verdict("partial", "1 request(s) failed, first: HTTP 500 at http://x/2")
    assert assess(RunRecord(pages=1), {**done, "voxpop/stored": 0, STORE_ERROR_STAT: "store error: locked"},
                  "finished") == Verdict("failed", "store error: locked")
    assert assess(RunRecord(pages=1), done, "shutdown").status == "partial"


def test_status_names_failed_crawls(sqlite_store: object, tmp_path: Path) -> None:
    from store.repo import finish_crawl_run, start_crawl_run
    from voxpop import operations
    from voxpop.config import parse_config

    config = parse_config({"products": [{"slug": "notely"}]}, "t.toml", environ={})
    with sqlite_store.transaction() as session:  # type: ignore[attr-defined]
        run = start_crawl_run(session, "appstore", "notely", None)
        finish_crawl_run(session, run.id, status="failed", reason="empty crawl: no page was parsed", stored=0,
                         updated=0, dropped=0, stats={})
    status = operations.status(sqlite_store, config)  # type: ignore[arg-type]
    assert status["crawl_problems"] == {"notely/appstore": "failed: empty crawl: no page was parsed"}
