"""The crawl machinery: the local site server, item validation, Retry-After, the runner and run records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spiders.items import PostItem
from spiders.middlewares import retry_after_seconds
from spiders.pipelines import Dropped, normalize_item
from spiders.runner import PROJECT_ROOT, crawl_command
from tests.conftest_sites import CrawlHelper, make_site, respond
from tests.review_sites import appstore_entry, appstore_page

# ---------------------------------------------------------------- demo_site


def fetch(url: str, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_demo_site_routes(tmp_path: Path, site_server: Any) -> None:
    root = make_site(tmp_path / "site", {
        "/api/items?b=2&a=x%2Ay": {"page": 1},
        "/api/items": {"page": "any"},
        "/flaky": [respond("busy", status=503, headers={"Retry-After": "1"}, times=2), respond({"ok": True})],
        "/rpc": [{**respond({"n": 2}), "match_body": "token-two"}, {**respond({"n": 1}), "match_body": "first"}],
        "/page.html": "<p>hello</p>",
    }, robots="User-agent: *\nDisallow: /private/\n")
    (root / "static.txt").write_text("plain file", encoding="utf-8")
    site = site_server(root)
    assert json.loads(fetch(site.base_url + "/api/items?a=x*y&b=2")[2]) == {"page": 1}  # order, encoding
    assert json.loads(fetch(site.base_url + "/api/items?a=other")[2]) == {"page": "any"}  # bare path fallback
    first, second, third = (fetch(site.base_url + "/flaky") for _ in range(3))
    assert (first[0], second[0], third[0]) == (503, 503, 200) and first[1]["Retry-After"] == "1"
    assert json.loads(fetch(site.base_url + "/rpc", b"f.req=token-two")[2]) == {"n": 2}
    assert json.loads(fetch(site.base_url + "/rpc", b"f.req=first")[2]) == {"n": 1}
    assert fetch(site.base_url + "/rpc", b"f.req=unknown")[0] == 404
    assert fetch(site.base_url + "/robots.txt")[2] == b"User-agent: *\nDisallow: /private/\n"
    assert fetch(site.base_url + "/static.txt")[2] == b"plain file"
    assert fetch(site.base_url + "/page.html")[2] == b"<p>hello</p>"
    assert fetch(site.base_url + "/nothing")[0] == 404
    assert site.hits()[:2] == ["/api/items?a=x*y&b=2", "/api/items?a=other"]


def test_demo_site_command_line_prints_url_first(tmp_path: Path) -> None:
    root = make_site(tmp_path / "site", {"/x": {"y": 1}})
    proc = subprocess.Popen([sys.executable, "-m", "voxpop.demo.site", "--root", str(root), "--port", "0"],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert json.loads(fetch(url + "/x")[2]) == {"y": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


# ---------------------------------------------------------------- validation and normalisation


def test_normalize_cleans_and_detects_language() -> None:
    item = normalize_item({"source": "x", "external_id": 12, "text": "<p>Sync &amp; export\u0000 are <b>broken</b>"
                           " on my phone and it is very annoying</p>", "text_format": "html",
                           "title": "  Broken\u200b  sync ", "rating": "4", "created_at": "2026-11-20T10:00:00+02:00",
                           "url": "javascript:alert(1)", "products": ["jotter"]})
    assert isinstance(item, PostItem)
    assert item.external_id == "12" and item.text == "Sync & export are broken on my phone and it is very annoying"
    assert item.title == "Broken sync" and item.rating == 4.0 and item.url is None
    assert item.created_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert item.language == "en" and item.products == ["jotter"]


@pytest.mark.parametrize("fields,reason", [
    ({"text": "   "}, "missing_text"),
    ({"external_id": ""}, "missing_external_id"),
    ({"rating": 7}, "bad_rating"),
    ({"rating": "five"}, "bad_rating"),
    ({"created_at": "yesterday-ish"}, "bad_date"),
    ({"raw": {"when": datetime.now(UTC)}}, "bad_raw"),
    ({"text": ["a list"]}, "bad_text"),
    ({"products": "jotter"}, "bad_products"),
])
def test_normalize_drops_with_reason(fields: dict[str, Any], reason: str) -> None:
    base = {"source": "x", "external_id": "1", "text": "A perfectly fine review text."}
    with pytest.raises(Dropped) as caught:
        normalize_item({**base, **fields})
    assert caught.value.reason == reason


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds("Mon, 23 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("-3") == 0.0


def test_crawl_command() -> None:
    cmd = crawl_command("appstore", "notely", "appstore-us", {"app_id": "1", "countries": ["us", "gb"],
                                                              "base_url": "http://h"}, since="2026-01-01",
                        extra_settings={"DOWNLOAD_DELAY": 0})
    assert cmd[1:4] == ["-m", "scrapy", "crawl"]
    joined = " ".join(cmd[4:])
    assert joined == ("appstore -a product=notely -a source=appstore-us -a base_url=http://h -a since=2026-01-01 "
                      "-a app_id=1 -a countries=us,gb -s DOWNLOAD_DELAY=0")


# ---------------------------------------------------------------- runs, failures, caps


@pytest.mark.slow
def test_site_down_fails_cleanly(crawl: CrawlHelper) -> None:
    from tests.conftest import free_port

    outcome = crawl("appstore", f"http://127.0.0.1:{free_port()}", app_id="1", settings={"RETRY_TIMES": 1})
    assert outcome.status == "failed" and outcome.returncode == 0
    assert "ConnectionRefused" in (outcome.reason or "") and outcome.stored == 0
    assert outcome.stats["retries"] >= 1 and outcome.stats["duration_s"] > 0


@pytest.mark.slow
def test_missing_argument_and_timeout_are_recorded(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    missing = crawl("appstore", "http://127.0.0.1:9")
    assert missing.status == "failed" and "-a app_id=" in (missing.reason or "")
    site = site_server(make_site(tmp_path / "site", {
        "/us/rss/customerreviews/page=1/id=5/sortby=mostrecent/json": respond({"feed": {}}, delay_s=30)}))
    slow = crawl("appstore", site.base_url, app_id="5", timeout_s=4, settings={"DOWNLOAD_TIMEOUT": 60})
    assert slow.status == "failed" and slow.reason == "timed out after 4 s"


@pytest.mark.slow
def test_standalone_crawl_drops_bad_items_and_records_rate_limit(tmp_path: Path, site_server: Any) -> None:
    """``scrapy crawl`` alone (no runner): batches, counted drops, a Retry-After over the cap."""
    when = datetime.now(UTC) - timedelta(hours=1)
    entries = [appstore_entry(n, "3", when=when - timedelta(minutes=n)) for n in range(5)]
    entries[1]["content"]["label"] = "   "
    entries[2]["im:rating"] = {"label": "nine"}
    routes = {
        "/us/rss/customerreviews/page=1/id=3/sortby=mostrecent/json": appstore_page(entries, "3", "us", 1, 1),
        "/gb/rss/customerreviews/page=1/id=3/sortby=mostrecent/json": respond(
            {"errors": ["rate"]}, status=429, headers={"Retry-After": "3600"}),
    }
    site = site_server(make_site(tmp_path / "site", routes))
    database_url = f"sqlite:///{tmp_path / 'alone.db'}"
    env = {**os.environ, "VOXPOP_DATABASE_URL": database_url}
    cmd = [sys.executable, "-m", "scrapy", "crawl", "appstore", "-a", "product=solo", "-a", f"base_url={site.base_url}",
           "-a", "app_id=3", "-a", "countries=us,gb", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
           "-s", "VOXPOP_BATCH_SIZE=2", "-s", "RETRY_AFTER_MAX_S=5"]
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

    from sqlalchemy import select

    from store.db import Store
    from store.models import CrawlRun, Post, Source

    store = Store(database_url)
    try:
        with store.transaction() as session:
            run = session.scalars(select(CrawlRun)).one()
            posts = session.scalars(select(Post)).all()
            source = session.scalars(select(Source)).one()
            assert run.spider == "appstore" and run.product_slug == "solo" and run.source_id == source.id
            assert run.status == "partial" and "rate limit" in (run.reason or "")
            assert run.stored == 3 == len(posts) and run.dropped == 2
            assert run.stats["dropped_by_reason"] == {"missing_text": 1, "bad_rating": 1}
            assert any(cap.startswith("rate limit ended crawl early") for cap in run.stats["caps_hit"])
            assert run.stats["http_status"] == {"200": 2, "429": 1}  # robots.txt, us page, gb once (no wait)
            assert source.name == "appstore" and set(source.high_water) == {"us", "us:id"}
            assert source.params["app_id"] == "3"
    finally:
        store.dispose()
