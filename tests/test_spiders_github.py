"""GitHub issues: page parsing from our fixtures, and real crawls against the local site server."""

from __future__ import annotations

import json
import time

import pytest

from spiders.pages import github as pages
from spiders.pages.common import MalformedBody
from spiders.pages.community import parse_link_header
from tests.community_sites import FIXTURES, body, fixture_site, hit_times

PAGE1 = "/repos/notely-app/notely/issues?state=all&per_page=100&since=2000-01-01T00:00:00Z"
PAGE2 = PAGE1 + "&page=2"
COMMENTS = "/repos/notely-app/notely/issues/12/comments?per_page=100&since=2000-01-01T00:00:00Z"


def test_parse_issues_skips_pull_requests() -> None:
    page = pages.parse_issues(body("github", "issues_page1.json"), found_by="github:notely-app/notely")
    assert [p["external_id"] for p in page.posts] == ["issue-3300000015", "issue-3300000014"]
    assert page.info["pull_requests"] == 1 and page.info["newest_updated"] == "2026-11-21T10:30:00Z"
    crash, theme = page.posts
    assert crash["title"] == "Crash when pasting an image into a locked note"
    assert crash["text"].startswith("**Steps**") and crash["author"] == "pixel_paula"
    assert crash["url"] == "https://github.com/notely-app/notely/issues/15" and crash["raw"]["labels"] == ["bug"]
    assert theme["text"] == "Add a dark theme for the editor"  # no body: the title is the text
    page2 = pages.parse_issues(body("github", "issues_page2.json"))
    assert page2.info["with_comments"] == [("https://api.github.com/repos/notely-app/notely/issues/12/comments", 12)]
    comments = pages.parse_comments(body("github", "comments_12.json"), number=12)
    assert [c["external_id"] for c in comments.posts] == ["comment-4400000101", "comment-4400000102"]
    assert comments.posts[0]["url"].endswith("/issues/12#issuecomment-4400000101")


def test_parse_link_header_and_malformed_bodies() -> None:
    routes = json.loads((FIXTURES / "github" / "routes.json").read_text())
    links = parse_link_header(routes[PAGE1]["headers"]["Link"])
    assert links["next"].endswith("&page=2") and set(links) == {"next", "last"}
    real_shape = ('<https://api.github.com/repositories/1/issues?per_page=3&page=2>; rel="next", '
                  '<https://api.github.com/repositories/1/issues?per_page=3&page=5>; rel="last"')
    assert parse_link_header(real_shape)["last"].endswith("page=5")
    assert parse_link_header(None) == {}
    with pytest.raises(MalformedBody):
        pages.parse_issues(b'{"message": "Not Found"}')  # an object where a list belongs
    with pytest.raises(MalformedBody):
        pages.parse_issues(b"[{\"id\": 1,")


@pytest.mark.slow
def test_crawl_follows_link_pages_with_comments_then_nothing_twice(site_server, crawl, tmp_path,
                                                                   monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    site = site_server(fixture_site(tmp_path, "github"))
    first = crawl("github", site.base_url, product="notely", repo="notely-app/notely", comments="1")
    assert first.status == "ok", first.reason
    assert first.stored == 6  # 4 issues (the pull request left out) + 2 comments
    assert first.stats["pull_requests_skipped"] == 1
    posts = crawl.posts("github")
    assert len({p.external_id for p in posts}) == len(posts) == 6
    assert all(p.found_by == "github:notely-app/notely" for p in posts)
    assert all(r["authorization"] == "" for r in site.hit_records())  # no token, no header
    assert crawl.high_water(product="notely") == {"issues:notely-app/notely": "2026-11-21T10:30:00+00:00"}

    before = len(site.hits())
    second = crawl("github", site.base_url, product="notely", repo="notely-app/notely", comments="1")
    assert second.status == "ok", second.reason
    assert (second.stored, second.updated) == (0, 0) and len(crawl.posts("github")) == 6
    assert site.hits()[before:] == ["/repos/notely-app/notely/issues?state=all&per_page=100"
                                    "&since=2026-11-21T10%3A30%3A01Z"]


@pytest.mark.slow
def test_crawl_waits_for_the_rate_limit_reset_and_counts_a_malformed_page(site_server, crawl, tmp_path,
                                                                          monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "fixture-token")
    routes = json.loads((FIXTURES / "github" / "routes.json").read_text())
    reset = int(time.time()) + 3
    exhausted = {**routes[PAGE1], "headers": {**routes[PAGE1]["headers"], "X-RateLimit-Remaining": "0",
                                              "X-RateLimit-Reset": str(reset)}}
    root = fixture_site(tmp_path, "github", {
        PAGE1: exhausted,
        # a secondary rate limit: 403 with Retry-After, then the page
        PAGE2: [{"status": 403, "json": {"message": "You have exceeded a secondary rate limit."},
                 "headers": {"Retry-After": "1"}, "times": 1}, routes[PAGE2]],
        COMMENTS: {"text": "[{\"id\": 4400000101, \"body\": ", "headers": {"Content-Type": "application/json"}},
    })
    site = site_server(root)
    outcome = crawl("github", site.base_url, product="notely", repo="notely-app/notely", comments="1")
    records = site.hit_records()
    refused_at, page2_at = hit_times(records, "page=2")
    assert refused_at >= reset - 0.05  # nothing was asked before X-RateLimit-Reset
    assert page2_at - refused_at >= 0.95  # Retry-After: 1 on the 403 was waited for
    assert outcome.stats["waits"] >= 1 and "GitHub rate limit" in outcome.stats["wait_reasons"]
    assert all(r["authorization"] == "Bearer fixture-token" for r in records if r["target"] != "/robots.txt")
    assert outcome.status == "partial" and outcome.stats["malformed_pages"] == 2  # asked once more, then skipped
    assert outcome.stored == 4


@pytest.mark.slow
def test_rate_limit_far_away_stops_cleanly_and_bad_token_ends_the_crawl(site_server, crawl, tmp_path,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "fixture-token")
    root = fixture_site(tmp_path, "github", {
        PAGE2: {"status": 403, "body": "rate_limited.json",
                "headers": {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)}},
    })
    site = site_server(root)
    outcome = crawl("github", site.base_url, product="notely", repo="notely-app/notely")
    assert outcome.status == "partial" and "rate limit ended the crawl early" in outcome.reason
    assert outcome.stats["caps_hit"] and "GitHub rate limit" in outcome.stats["caps_hit"][0]
    assert outcome.stored == 2  # page 1 kept; no wait of an hour
    assert outcome.stats["high_water"] == {}  # not crawled to the end: the mark does not move

    (tmp_path / "bad").mkdir()
    bad = site_server(fixture_site(tmp_path / "bad", "github", {
        PAGE1: {"status": 401, "body": "bad_credentials.json"}}))
    failed = crawl("github", bad.base_url, product="notely", repo="notely-app/notely", source="github-bad")
    assert failed.status == "failed"
    assert "authentication failed: HTTP 401" in failed.reason and "GITHUB_TOKEN" in failed.reason
