"""Bluesky search: page parsing from our fixtures, and real crawls against the local site server."""

from __future__ import annotations

import json
import time

import pytest

from spiders.pages import bluesky as pages
from spiders.pages.common import MalformedBody
from tests.community_sites import FIXTURES, body, fixture_site, hit_times

CREDS = {"BLUESKY_HANDLE": "voxpop-crawler.bsky.social", "BLUESKY_APP_PASSWORD": "fixture-app-password"}
PAGE1 = "/xrpc/app.bsky.feed.searchPosts?q=notely&limit=100&sort=latest&since=2000-01-01T00:00:00Z"
PAGE2 = PAGE1 + "&cursor=3"


def test_parse_search_builds_post_urls_from_at_uris() -> None:
    page = pages.parse_search(body("bluesky", "search_page1.json"), found_by="bluesky search:notely")
    assert page.next == "3" and page.info["count"] == 3
    first = page.posts[0]
    assert first["external_id"] == "at://did:plc:fx4notetaker0000000000001/app.bsky.feed.post/3mfx0000000a5"
    assert first["url"] == "https://bsky.app/profile/margins.bsky.social/post/3mfx0000000a5"
    assert first["author"] == "margins.bsky.social" and first["language"] == "en"
    assert first["created_at"] == "2026-11-21T19:40:02.118Z" and first["raw"]["indexedAt"] == "2026-11-21T19:40:03.004Z"
    last = pages.parse_search(body("bluesky", "search_page2.json"))
    assert last.next is None and last.posts[0]["raw"]["reply"] is True and last.posts[1]["language"] == "de"
    assert pages.post_url("at://did:plc:abc/app.bsky.feed.post/3k7q") == "https://bsky.app/profile/did:plc:abc/post/3k7q"
    assert pages.post_url("at://did:plc:abc/app.bsky.feed.like/3k7q") is None


def test_parse_session_errors_and_malformed_bodies() -> None:
    assert pages.parse_session(body("bluesky", "session.json"))["refreshJwt"] == "fixture-refresh-1"
    assert pages.parse_error(body("bluesky", "expired.json")) == ("ExpiredToken", "Token has expired")
    with pytest.raises(MalformedBody, match="AuthenticationRequired"):
        pages.parse_session(body("bluesky", "bad_login.json"))
    with pytest.raises(MalformedBody, match="posts"):
        pages.parse_search(b'{"cursor": "3"}')
    with pytest.raises(MalformedBody):
        pages.parse_search(b"upstream connect error")


@pytest.mark.slow
def test_crawl_logs_in_reads_every_page_then_nothing_twice(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    site = site_server(fixture_site(tmp_path, "bluesky"))
    first = crawl("bluesky", site.base_url, product="notely", query="notely")
    assert first.status == "ok", first.reason
    assert first.stored == 5
    posts = crawl.posts("bluesky")
    assert len({p.external_id for p in posts}) == len(posts) == 5
    assert {p.found_by for p in posts} == {"bluesky search:notely"}
    records = site.hit_records()
    assert records[0]["method"] == "POST" and records[0]["target"] == "/xrpc/com.atproto.server.createSession"
    assert json.loads(records[0]["body"]) == {"identifier": CREDS["BLUESKY_HANDLE"],
                                              "password": CREDS["BLUESKY_APP_PASSWORD"]}
    assert [r["authorization"] for r in records[1:]] == ["Bearer fixture-access-1"] * 2
    assert crawl.high_water(product="notely") == {"search:notely": "2026-11-21T19:40:03.004000+00:00"}

    second = crawl("bluesky", site.base_url, product="notely", query="notely")
    assert second.status == "ok", second.reason
    assert (second.stored, second.updated) == (0, 0) and len(crawl.posts("bluesky")) == 5
    assert site.hits()[len(records) + 1:] == [
        "/xrpc/app.bsky.feed.searchPosts?q=notely&limit=100&sort=latest&since=2026-11-21T19%3A40%3A03Z"]


@pytest.mark.slow
def test_expired_token_is_refreshed_and_rate_limit_reset_awaited(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    routes = json.loads((FIXTURES / "bluesky" / "routes.json").read_text())
    reset = int(time.time()) + 3
    root = fixture_site(tmp_path, "bluesky", {
        PAGE1: {**routes[PAGE1], "headers": {**routes[PAGE1]["headers"], "RateLimit-Remaining": "0",
                                             "RateLimit-Reset": str(reset)}},
        PAGE2: [{"status": 400, "body": "expired.json", "times": 1}, routes[PAGE2]],
    })
    site = site_server(root)
    outcome = crawl("bluesky", site.base_url, product="notely", query="notely")
    assert outcome.status == "ok", outcome.reason
    assert outcome.stored == 5 and outcome.stats["token_renewals"] == 1
    records = site.hit_records()
    expired_at, _ = hit_times(records, "cursor=3")
    assert expired_at >= reset - 0.05  # nothing asked before RateLimit-Reset
    refresh = [r for r in records if r["target"] == "/xrpc/com.atproto.server.refreshSession"]
    assert len(refresh) == 1 and refresh[0]["authorization"] == "Bearer fixture-refresh-1"
    assert [r["authorization"] for r in records if "cursor=3" in r["target"]] == [
        "Bearer fixture-access-1", "Bearer fixture-access-2"]


@pytest.mark.slow
def test_refused_login_and_malformed_search_are_reported(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    site = site_server(fixture_site(tmp_path, "bluesky", {
        "/xrpc/com.atproto.server.createSession": {"status": 401, "body": "bad_login.json"}}))
    refused = crawl("bluesky", site.base_url, product="notely", query="notely")
    assert refused.status == "failed"
    assert "authentication failed: HTTP 401" in refused.reason and "BLUESKY_APP_PASSWORD" in refused.reason
    assert "Invalid identifier or password" in refused.reason
    assert site.hits() == ["/xrpc/com.atproto.server.createSession"]

    (tmp_path / "bad").mkdir()
    broken = site_server(fixture_site(tmp_path / "bad", "bluesky", {
        PAGE1: {"text": "{\"posts\": [{\"uri\": ", "headers": {"Content-Type": "application/json"}}}))
    outcome = crawl("bluesky", broken.base_url, product="notely", query="notely", source="bluesky-2")
    assert outcome.status == "failed" and "1 malformed page(s) skipped" in outcome.reason
    assert outcome.stats["malformed_pages"] == 2  # asked once more, then skipped
