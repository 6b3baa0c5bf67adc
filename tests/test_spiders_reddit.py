"""Reddit: page parsing from our fixtures, and real crawls against the local site server."""

from __future__ import annotations

import pytest

from spiders.pages import reddit as pages
from spiders.pages.common import MalformedBody
from tests.community_sites import body, ensure_products, fixture_site, hit_times, linked

CREDS = {"REDDIT_CLIENT_ID": "fixture-id", "REDDIT_CLIENT_SECRET": "fixture-secret"}
PAGE1 = "/r/notetaking/new?limit=100&raw_json=1"
PAGE2 = "/r/notetaking/new?limit=100&raw_json=1&after=t3_rn003"
COMMENTS2 = "/comments/rn002?limit=500&sort=new&raw_json=1"
SEARCH = "/r/productivity/search?q=notely&restrict_sr=1&sort=new&limit=100&raw_json=1"


def test_parse_listing_reads_posts_and_after_token() -> None:
    page = pages.parse_listing(body("reddit", "new_page1.json"), found_by="r/notetaking")
    assert page.next == "t3_rn003"
    assert [p["external_id"] for p in page.posts] == ["t3_rn001", "t3_rn002", "t3_rn003"]
    first = page.posts[0]
    assert first["title"] == "Notely sync keeps duplicating my notebooks"
    assert first["text"].startswith("Every time I open Notely")
    assert first["url"].startswith("https://www.reddit.com/r/notetaking/comments/rn001/")
    assert first["created_at"] == "2026-11-20T09:30:00+00:00"
    assert first["found_by"] == "r/notetaking" and first["raw"]["num_comments"] == 4
    assert page.posts[2]["text"] == page.posts[2]["title"]  # a link post without body keeps its title as text
    last = pages.parse_listing(body("reddit", "new_page2.json"))
    assert last.next is None
    assert last.posts[1]["text"] == "[removed] thread title kept" and last.posts[1]["author"] is None


def test_parse_comments_flattens_the_tree_and_skips_stubs() -> None:
    page = pages.parse_comments(body("reddit", "comments_rn001.json"), found_by="r/notetaking")
    assert [c["external_id"] for c in page.posts] == ["t1_c001", "t1_c002", "t1_c003"]
    # the "more" stub counted (its ids kept for /api/morechildren), the deleted comment skipped
    assert page.info == {"more": 2, "more_ids": ["c005", "c006"], "skipped": 1}
    assert page.posts[1]["raw"]["parent_id"] == "t1_c001"
    assert page.posts[2]["url"] == "https://www.reddit.com/r/notetaking/comments/rn001/x/c003/"
    assert len(pages.parse_comments(body("reddit", "comments_rn001.json"), limit=1).posts) == 1
    more = pages.parse_more_children(body("reddit", "morechildren_rn001.json"), found_by="r/notetaking")
    assert [c["external_id"] for c in more.posts] == ["t1_c005", "t1_c006"]
    assert more.posts[1]["raw"]["parent_id"] == "t1_c005" and more.info["more_ids"] == []
    with pytest.raises(MalformedBody, match="RATELIMIT"):
        pages.parse_more_children(b'{"json": {"errors": [["RATELIMIT", "slow down", "ratelimit"]]}}')


def test_parse_token_and_malformed_bodies() -> None:
    assert pages.parse_token(body("reddit", "token.json")) == ("fixture-token-1", 3600.0)
    with pytest.raises(MalformedBody, match="401"):
        pages.parse_token(body("reddit", "token_error.json"))
    with pytest.raises(MalformedBody):
        pages.parse_listing(b"<html>down for maintenance</html>")
    with pytest.raises(MalformedBody, match="Listing"):
        pages.parse_listing(b'{"kind": "t3", "data": {}}')


@pytest.mark.slow
def test_crawl_reads_every_page_and_comments_then_nothing_twice(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    ensure_products(crawl.database_url, "jotter")
    site = site_server(fixture_site(tmp_path, "reddit"))
    first = crawl("reddit", site.base_url, product="notely", subreddits="notetaking", also="jotter:Jotter",
                  auth_url=site.base_url)
    assert first.status == "ok", first.reason
    # 5 posts (both pages) + 4 comments (the deleted one skipped) + 2 behind a "more" stub
    assert first.stored == 11
    assert "comments_not_expanded" not in first.stats
    assert any(h.startswith("/api/morechildren?") for h in site.hits())
    posts = crawl.posts("reddit")
    assert len({p.external_id for p in posts}) == len(posts) == 11
    assert {p.found_by for p in posts} == {"r/notetaking"}
    records = site.hit_records()
    assert records[0]["method"] == "POST" and records[0]["body"] == "grant_type=client_credentials"
    assert records[0]["authorization"] == "Basic Zml4dHVyZS1pZDpmaXh0dXJlLXNlY3JldA=="  # fixture-id:fixture-secret
    assert all(r["authorization"] == "bearer fixture-token-1" for r in records[1:])
    assert linked(crawl.database_url, "jotter") == {"t3_rn002", "t1_c010"}  # they name Jotter
    assert crawl.high_water(product="notely") == {"r/notetaking": "2026-11-20T09:30:00+00:00"}

    second = crawl("reddit", site.base_url, product="notely", subreddits="notetaking", auth_url=site.base_url)
    assert second.status == "ok", second.reason
    assert (second.stored, second.updated) == (0, 0)
    assert len(crawl.posts("reddit")) == 11
    assert site.hits()[len(records):] == ["/api/v1/access_token", PAGE1]  # stopped at the high-water mark


@pytest.mark.slow
def test_crawl_waits_for_rate_limit_reset_and_counts_malformed(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    root = fixture_site(tmp_path, "reddit", {
        PAGE1: {"body": "new_page1.json", "headers": {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1",
                                                      "X-Ratelimit-Used": "600"}},
        COMMENTS2: {"text": "{\"kind\": \"Listing\", truncated", "headers": {"Content-Type": "application/json"}},
    })
    site = site_server(root)
    outcome = crawl("reddit", site.base_url, product="notely", subreddits="notetaking", auth_url=site.base_url,
                    more_max="0")
    records = site.hit_records()
    (page1_at,) = [float(r["at"]) for r in records if r["target"] == PAGE1]
    (page2_at,) = hit_times(records, "after=t3_rn003")
    assert page2_at - page1_at >= 0.95  # the next request waited for X-Ratelimit-Reset
    assert outcome.stats["waits"] == 1 and outcome.stats["waited_s"] >= 0.95
    assert outcome.status == "partial" and "1 malformed page(s) skipped" in outcome.reason
    assert outcome.stats["malformed_pages"] == 2  # asked once more, then skipped
    assert outcome.stored == 8  # everything but the malformed comment page and the unexpanded "more"
    assert outcome.stats["comments_not_expanded"] == 2
    assert "'more' comments expanded with at most more_max=0 requests" in outcome.stats["caps_hit"]


@pytest.mark.slow
def test_search_renews_an_expired_token_once(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    root = fixture_site(tmp_path, "reddit", {
        SEARCH: [{"status": 401, "json": {"message": "Unauthorized", "error": 401}, "times": 1},
                 {"body": "search_page1.json"}],
    })
    site = site_server(root)
    outcome = crawl("reddit", site.base_url, product="notely", subreddits="productivity", query="notely",
                    auth_url=site.base_url)
    assert outcome.status == "ok", outcome.reason
    assert outcome.stored == 1
    # token, search (401), a new token, the same search again
    assert [h.split("?")[0] for h in site.hits()] == ["/api/v1/access_token", "/r/productivity/search"] * 2
    (post,) = crawl.posts("reddit")
    assert post.found_by == "r/productivity search:notely"


@pytest.mark.slow
def test_refused_credentials_end_the_crawl_with_a_clear_message(site_server, crawl, tmp_path, monkeypatch) -> None:
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    root = fixture_site(tmp_path, "reddit", {
        "/api/v1/access_token": {"status": 401, "body": "token_error.json"}})
    site = site_server(root)
    outcome = crawl("reddit", site.base_url, product="notely", subreddits="notetaking", auth_url=site.base_url)
    assert outcome.status == "failed"
    assert "authentication failed: HTTP 401" in outcome.reason and "REDDIT_CLIENT_ID" in outcome.reason
    assert site.hits() == ["/api/v1/access_token"]  # nothing else was asked
    assert crawl.posts("reddit") == []

