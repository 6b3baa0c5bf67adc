"""Fixtures for spider tests: a local site server (demo_site) and real crawls in a subprocess.

Usage in a test::

    def test_crawl(site_server, crawl, tmp_path):
        site = site_server(make_site(tmp_path / "site", {"/latest.json": {...}}, robots=ALLOW_ALL))
        outcome = crawl("discourse", site.base_url, product="notely")
        assert outcome.status == "ok" and outcome.stored == 3

``make_site`` values are bodies (dict/list -> JSON, str/bytes -> as is) or :func:`respond` specs
(status, headers, ``times``, ``delay_s``), or a list of :func:`respond` specs for sequences such as
429-then-200. ``crawl`` runs ``python -m scrapy crawl`` with the real engine through
``spiders.runner.run_crawl`` on a fresh SQLite file per test (``crawl.database_url``), with short
delays and retries so a crawl takes a few seconds.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ALLOW_ALL = "User-agent: *\nAllow: /\n"

FAST_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "RETRY_BACKOFF_BASE_S": 0.05,
    "RETRY_BACKOFF_MAX_S": 0.2,
    "RETRY_AFTER_MAX_S": 5,
    "RETRY_TIMES": 2,
    "DOWNLOAD_TIMEOUT": 5,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
    "LOG_LEVEL": "INFO",
}


def respond(body: Any = None, *, status: int = 200, headers: Mapping[str, str] | None = None,
            times: int | None = None, delay_s: float | None = None, raw: bool = False) -> dict[str, Any]:
    """A response spec for :func:`make_site`: ``body`` is JSON unless ``raw`` (then text as is)."""
    spec: dict[str, Any] = {"__response__": True, "status": status}
    if body is not None:
        spec["text" if raw or isinstance(body, str) else "json"] = body
    if headers:
        spec["headers"] = dict(headers)
    if times is not None:
        spec["times"] = times
    if delay_s is not None:
        spec["delay_s"] = delay_s
    return spec


def make_site(root: Path, routes: Mapping[str, Any], robots: str | None = ALLOW_ALL) -> Path:
    """Write a demo_site directory from ``{target: body | respond(...) | [respond(...), ...]}``."""
    from voxpop.demo.site import write_routes

    return write_routes(root, routes, robots=robots)


@dataclass
class RunningSite:
    """A demo_site subprocess serving one directory."""

    base_url: str
    root: Path

    def hits(self) -> list[str]:
        """Request targets served so far, in order."""
        with urllib.request.urlopen(self.base_url + "/__hits__", timeout=5) as response:  # noqa: S310 - local
            return [hit["target"] for hit in json.load(response)]

    def hit_records(self) -> list[dict[str, str]]:
        """Every request with its User-Agent and time."""
        with urllib.request.urlopen(self.base_url + "/__hits__", timeout=5) as response:  # noqa: S310 - local
            return list(json.load(response))


@pytest.fixture
def site_server() -> Iterator[Callable[[Path], RunningSite]]:
    """Factory: ``site_server(root)`` starts demo_site on ``root``; every site stops after the test."""
    from voxpop.demo.site import start_site

    stops: list[Callable[[], None]] = []

    def start(root: Path) -> RunningSite:
        base_url, stop = start_site(root)
        stops.append(stop)
        return RunningSite(base_url=base_url, root=Path(root))

    yield start
    for stop in stops:
        stop()


class CrawlHelper:
    """Runs spiders with the real engine in a subprocess against one test database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def __call__(self, spider: str, base_url: str | None, *, product: str = "testprod", source: str | None = None,
                 since: str | None = "2000-01-01", timeout_s: float = 60, settings: Mapping[str, Any] | None = None,
                 **params: Any) -> Any:
        """Crawl once and return the :class:`spiders.runner.CrawlOutcome` the run recorded."""
        from spiders.runner import run_crawl

        return run_crawl(product_slug=product, source_name=source or spider, spider=spider,
                         params={k: v for k, v in params.items() if v is not None},
                         database_url=self.database_url, timeout_s=timeout_s, base_url=base_url, since=since,
                         extra_settings={**FAST_SETTINGS, **dict(settings or {})})

    def posts(self, source: str | None = None) -> list[Any]:
        """Every stored post (optionally of one source), ordered by id."""
        from sqlalchemy import select

        from store.db import Store
        from store.models import Post

        store = Store(self.database_url)
        try:
            with store.transaction() as session:
                query = select(Post).order_by(Post.id)
                if source:
                    query = query.where(Post.source == source)
                posts = list(session.scalars(query))
                session.expunge_all()
                return posts
        finally:
            store.dispose()

    def high_water(self, product: str = "testprod", source: str | None = None) -> dict[str, Any]:
        """The stored high-water mark of a source."""
        from sqlalchemy import select

        from store.db import Store
        from store.models import Product, Source

        store = Store(self.database_url)
        try:
            with store.transaction() as session:
                query = select(Source.high_water).join(Product, Product.id == Source.product_id).where(
                    Product.slug == product)
                if source:
                    query = query.where(Source.name == source)
                return dict(session.scalar(query) or {})
        finally:
            store.dispose()


@pytest.fixture
def crawl(tmp_path: Path) -> CrawlHelper:
    """A :class:`CrawlHelper` on a fresh SQLite file of this test."""
    return CrawlHelper(f"sqlite:///{tmp_path / 'crawl.db'}")
