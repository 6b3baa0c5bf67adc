"""Hacker News (Algolia): page parsing from our fixtures, and real crawls against the local site server."""

from __future__ import annotations

import pytest

from spiders.pages import hackernews as pages
from spiders.pages.common import MalformedBody
from tests.community_sites import body, fixture_site, hit_times

BASE = "/api/v1/search_by_date?query=notely&tags=%28story%2Ccomment%29&hitsPerPage=100"
WINDOW1_PAGE1 = BASE + "&numericFilters=created_at_i%3E946684800&page=1"
WINDOW2_PAGE1 = BASE + "&numericFilters=created_at_i%3E946684800%2Ccreated_at_i%3C%3D1795079520&page=1"


def test_parse_search_reads_stories_and_comments() -> None:
    page = pages.parse_search(body("hackernews", "window1_page0.json"), found_by="hn search:notely")
    assert page.next == "1"
    assert page.info["nbHits"] == 7 and page.info["nbPages"] == 2 and page.info["hitsPerPage"] == 2
    comment, story = page.posts[1], pages.parse_search(body("hackernews", "window1_page1.json")).posts[0]
    assert comment["external_id"] == "41000012" and comment["title"] is None
    assert comment["text"] == "Does Notely support Markdown export? I keep my notes in git and can't move without it."
    assert comment["raw"]["story_id"] == 41000007 and comment["raw"]["parent_id"] == 41000007
    assert comment["url"] == "https://news.ycombinator.com/item?id=41000012"
    assert story["title"].startswith("Show HN: Notely")
    assert story["text"].startswith("We built Notely because") and "\"conflict\"" in story["text"]
    assert story["created_at"] == "2026-11-21T15:00:00+00:00"
    last = pages.parse_search(body("hackernews", "window2_page1.json"))
    assert last.next is None and last.info["oldest"] == 1794832200
    assert last.posts[1]["text"] == "Notely raises prices for the team plan"  # a link story keeps its title


def test_parse_search_rejects_malformed_bodies() -> None:
    with pytest.raises(MalformedBody):
        pages.parse_search(b"<!doctype html><title>502</title>")
    with pytest.raises(MalformedBody, match="hits"):
        pages.parse_search(b'{"nbHits": 3}')


@pytest.mark.slow
def test_crawl_moves_the_window_past_the_hit_cap_then_finds_nothing_new(site_server, crawl, tmp_path) -> None:
    site = site_server(fixture_site(tmp_path, "hackernews"))
    first = crawl("hackernews", site.base_url, product="notely", query="notely")
    assert first.status == "ok", first.reason
    assert first.stored == 7  # both windows; the hit repeated at the window edge stored once
    assert first.stats["reported_total"] == 7
    assert first.stats["caps_hit"] == ["Algolia reaches at most 4 hits per query: time window moved"]
    assert first.stats["windows"] == 2
    posts = crawl.posts("hackernews")
    assert len({p.external_id for p in posts}) == len(posts) == 7
    assert {p.found_by for p in posts} == {"hn search:notely"}
    assert crawl.high_water(product="notely") == {"query:notely": "2026-11-21T16:05:00+00:00"}

    before = len(site.hits())
    second = crawl("hackernews", site.base_url, product="notely", query="notely")
    assert second.status == "ok", second.reason
    assert (second.stored, second.updated) == (0, 0)
    assert len(crawl.posts("hackernews")) == 7
    (only,) = [h for h in site.hits()[before:] if h != "/robots.txt"]
    assert "numericFilters=created_at_i%3E1795277100" in only  # asks only for what is newer


@pytest.mark.slow
def test_crawl_honours_retry_after_and_counts_a_malformed_page(site_server, crawl, tmp_path) -> None:
    root = fixture_site(tmp_path, "hackernews", {
        WINDOW1_PAGE1: [{"status": 429, "headers": {"Retry-After": "1"}, "text": "slow down", "times": 1},
                        {"body": "window1_page1.json"}],
        WINDOW2_PAGE1: {"text": "{\"hits\": [", "headers": {"Content-Type": "application/json"}},
    })
    site = site_server(root)
    outcome = crawl("hackernews", site.base_url, product="notely", query="notely")
    first_try, second_try = hit_times(site.hit_records(), "created_at_i%3E946684800&hitsPerPage=100&page=1")
    assert second_try - first_try >= 0.95  # Retry-After: 1 was waited for
    assert outcome.stats["retry_after_honoured"] == 1
    assert outcome.status == "partial" and outcome.stats["malformed_pages"] == 2  # asked once more, then skipped
    assert outcome.stored == 5  # all but the two hits of the malformed page
