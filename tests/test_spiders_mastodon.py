"""Mastodon hashtag timelines: page parsing from our fixtures, and real crawls against the local site server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from spiders.pages import mastodon as pages
from spiders.pages.common import MalformedBody
from tests.community_sites import FIXTURES, body, fixture_site, hit_times

PAGE1 = "/api/v1/timelines/tag/notely?limit=40"
PAGE2 = "/api/v1/timelines/tag/notely?limit=40&max_id=113500000000000003"


def test_parse_timeline_turns_html_into_text_and_skips_boosts() -> None:
    page = pages.parse_timeline(body("mastodon", "page1.json"), found_by="#notely@social.example")
    assert page.info == {"count": 4, "reblogs": 1, "newest_id": "113500000000000006"}
    assert page.next == "113500000000000003"
    outline, search, bug = page.posts
    assert outline["external_id"] == "https://social.example/users/ink_and_pixels/statuses/113500000000000006"
    assert outline["url"] == "https://social.example/@ink_and_pixels/113500000000000006"
    assert outline["text"].startswith("Three weeks with #notely and the thing I miss most is a proper outline")
    assert search["text"] == ("#notely search finally finds words inside PDFs & images. Big improvement!\n"
                              "Still slower than Jotter on my old phone though.")
    assert search["author"] == "fieldnotes@other.example" and search["language"] == "en"
    assert bug["title"] == "notes app bug" and "Anyone else?" in bug["text"]
    assert bug["created_at"] == "2026-11-20T14:45:09.300Z"
    assert pages.parse_timeline(body("mastodon", "page2.json")).posts[0]["language"] == "de"
    assert pages.parse_timeline(b"[]").next is None


def test_parse_timeline_rejects_malformed_bodies() -> None:
    with pytest.raises(MalformedBody):
        pages.parse_timeline(body("mastodon", "unauthorized.json"))  # an error object, not a list
    with pytest.raises(MalformedBody):
        pages.parse_timeline(b"<html><body>Mastodon is down for maintenance</body></html>")


@pytest.mark.slow
def test_crawl_reads_to_the_empty_page_then_nothing_twice(site_server, crawl, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    site = site_server(fixture_site(tmp_path, "mastodon"))
    first = crawl("mastodon", site.base_url, product="notely", tag="notely")
    assert first.status == "ok", first.reason
    assert first.stored == 5 and first.stats["reblogs_skipped"] == 1
    posts = crawl.posts("mastodon")
    assert len({p.external_id for p in posts}) == len(posts) == 5
    host = site.base_url.split("//")[1]
    assert {p.found_by for p in posts} == {f"#notely@{host}"}
    assert crawl.high_water(product="notely") == {f"#notely@{host}": "113500000000000006"}
    api_hits = [h for h in site.hits() if h != "/robots.txt"]
    assert api_hits == [PAGE1, PAGE2, "/api/v1/timelines/tag/notely?limit=40&max_id=113500000000000001"]

    second = crawl("mastodon", site.base_url, product="notely", tag="notely")
    assert second.status == "ok", second.reason
    assert (second.stored, second.updated) == (0, 0) and len(crawl.posts("mastodon")) == 5
    assert [h for h in site.hits() if h != "/robots.txt"][3:] == [PAGE1]  # stopped at the stored id


@pytest.mark.slow
def test_crawl_waits_for_rate_limit_reset_and_counts_a_malformed_page(site_server, crawl, tmp_path) -> None:
    routes = json.loads((FIXTURES / "mastodon" / "routes.json").read_text())
    reset = time.time() + 3
    reset_iso = datetime.fromtimestamp(reset, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    root = fixture_site(tmp_path, "mastodon", {
        PAGE1: {**routes[PAGE1], "headers": {**routes[PAGE1]["headers"], "X-RateLimit-Remaining": "0",
                                             "X-RateLimit-Reset": reset_iso}},
        PAGE2: {"text": "[{\"id\": \"1135", "headers": {"Content-Type": "application/json"}},
    })
    site = site_server(root)
    outcome = crawl("mastodon", site.base_url, product="notely", tag="notely")
    (page1_at,) = [float(r["at"]) for r in site.hit_records() if r["target"] == PAGE1]
    page2_at, _retry_at = hit_times(site.hit_records(), "max_id=113500000000000003")
    assert page2_at >= reset - 0.05  # nothing asked before X-RateLimit-Reset
    if page1_at < reset - 0.5:  # (on a very slow machine the crawl may start after the reset)
        assert outcome.stats["waits"] == 1
    assert outcome.status == "partial" and outcome.stats["malformed_pages"] == 2  # asked once more, then skipped
    assert outcome.stored == 3
    assert outcome.stats["high_water"] == {}  # not read to the end: the mark does not move


@pytest.mark.slow
def test_closed_timeline_ends_the_crawl_with_a_clear_message(site_server, crawl, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    site = site_server(fixture_site(tmp_path, "mastodon", {PAGE1: {"status": 401, "body": "unauthorized.json"}}))
    outcome = crawl("mastodon", site.base_url, product="notely", tag="notely")
    assert outcome.status == "failed"
    assert "authentication failed: HTTP 401" in outcome.reason and "MASTODON_TOKEN" in outcome.reason
