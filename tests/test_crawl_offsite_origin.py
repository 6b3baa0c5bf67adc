"""Off-site means another origin: a redirect to the same host on another port is refused (real Scrapy engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spiders.offsite import origin_allowed, origin_of, origins_of
from tests.conftest_sites import CrawlHelper, make_site, respond
from tests.test_crawl_reviews import product_page

HTML = {"Content-Type": "text/html"}


def test_redirect_to_another_port_on_the_same_host_is_not_followed(tmp_path: Path, site_server: Any,
                                                                   crawl: CrawlHelper) -> None:
    # Another service on the same machine; it even serves reviews, so following would store them.
    other = site_server(make_site(tmp_path / "other", {"/admin": respond(product_page(9, 3), raw=True,
                                                                          headers=HTML)}))
    routes = {
        "/p/1": respond(product_page(1, 2), raw=True, headers=HTML),
        "/p/2": respond(status=302, headers={"Location": f"{other.base_url}/admin"}),
        "/p/3": respond(status=302, headers={"Location": "/p/3b"}),  # same origin: followed
        "/p/3b": respond(product_page(3, 1), raw=True, headers=HTML),
    }
    site = site_server(make_site(tmp_path / "site", routes))
    assert origin_of(site.base_url)[:2] == origin_of(other.base_url)[:2]  # type: ignore[index]
    outcome = crawl("jsonld", site.base_url, urls="/p/1,/p/2,/p/3")

    assert "/admin" not in other.hits()
    assert outcome.stats["offsite_redirects"] == 1, outcome.stats
    assert outcome.status == "partial" and "1 redirect(s)" in (outcome.reason or "")
    assert outcome.stored == 3 and len(crawl.posts()) == 3


@pytest.mark.parametrize("target,ok", [
    ("https://shop.example/a", True), ("https://www.shop.example/a", True), ("https://eu.shop.example/a", True),
    ("https://shop.example:8443/a", False), ("http://shop.example/a", False), ("https://shop.example:443/", True),
    ("https://evil.example/", False), ("https://shop.example.evil.example/", False),
])
def test_origin_rules(target: str, ok: bool) -> None:
    allowed = origins_of(["https://shop.example"])
    assert origin_allowed(origin_of(target), allowed) is ok  # type: ignore[arg-type]


def test_http_base_may_upgrade_to_https_on_the_default_ports_only() -> None:
    allowed = origins_of(["http://forum.example"])
    assert origin_allowed(origin_of("https://forum.example/t/1"), allowed)  # type: ignore[arg-type]
    assert not origin_allowed(origin_of("https://forum.example:8443/"), allowed)  # type: ignore[arg-type]
    assert origin_of("https://forum.example:99999/") is None and origin_of("file:///etc/passwd") is None
