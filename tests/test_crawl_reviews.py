"""Real crawls of the five review sources: the Scrapy engine in a subprocess against the local site server.

Each source is crawled to the end through a 429 with ``Retry-After``, a 500 and a malformed body that
all recover, then crawled again (nothing new stored, fewer requests), and once more with robots.txt
forbidding it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest_sites import CrawlHelper, RunningSite, make_site, respond
from tests.review_sites import (
    BASE_TIME,
    appstore_entry,
    appstore_page,
    discourse_list,
    discourse_post,
    discourse_topic,
    discourse_topic_ref,
    googleplay_body,
    googleplay_review,
    jsonld_html,
    steam_page,
    steam_review,
    text_of,
)

pytestmark = pytest.mark.slow

RETRY_AFTER_1 = {"Retry-After": "1"}
MALFORMED = "<html><body>Temporarily busy</body></html>"


def flaky(body: Any, kind: str) -> list[dict[str, Any]]:
    """A response that first fails in one way (429 / 500 / malformed), then succeeds."""
    first = {
        "429": respond({"errors": ["slow down"]}, status=429, headers=RETRY_AFTER_1, times=1),
        "500": respond("oops", status=500, times=1),
        "malformed": respond(MALFORMED, status=200, times=1, headers={"Content-Type": "text/html"}),
    }[kind]
    return [first, body if isinstance(body, dict) and body.get("__response__") else respond(body)]


def assert_recovered(outcome: Any, stored: int) -> None:
    stats = outcome.stats
    assert outcome.status == "ok", (outcome.reason, stats)
    assert outcome.stored == stored and outcome.dropped == 0
    assert stats["http_status"].get("429") == 1 and stats["http_status"].get("500") == 1
    assert stats["retry_after_honoured"] == 1
    assert stats["malformed_pages"] == 1 and stats["malformed_skipped"] == 0


def assert_polite(site: RunningSite) -> None:
    records = site.hit_records()
    assert records[0]["target"] == "/robots.txt"
    assert all(r["user_agent"].startswith("voxpop/0.1 (+") for r in records)


def assert_robots_forbidden(outcome: Any, site: RunningSite) -> None:
    assert outcome.status == "failed" and "robots.txt" in (outcome.reason or "")
    assert outcome.stats["robots_forbidden"] >= 1 and outcome.stored == 0
    assert site.hits() == ["/robots.txt"]


# ---------------------------------------------------------------- App Store


def appstore_routes(app_id: str, pages: int, per_page: int, edit_first: bool = False) -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for page in range(1, pages + 1):
        entries = [appstore_entry(n, app_id) for n in range((page - 1) * per_page, page * per_page)]
        if edit_first and page == 1:
            entries[0]["content"]["label"] = "Edited: " + text_of(0)
        routes[f"/us/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"] = appstore_page(
            entries, app_id, "us", page, pages, with_app_entry=page == 1)
    gb = [appstore_entry(n, app_id, "gb") for n in range(500, 503)]
    routes[f"/gb/rss/customerreviews/page=1/id={app_id}/sortby=mostrecent/json"] = appstore_page(
        gb, app_id, "gb", 1, 1)
    return routes


def test_appstore_crawl(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    routes = appstore_routes("42", pages=10, per_page=4)
    page = "/us/rss/customerreviews/page={}/id=42/sortby=mostrecent/json"
    routes[page.format(2)] = flaky(routes[page.format(2)], "429")
    routes[page.format(3)] = flaky(routes[page.format(3)], "500")
    routes[page.format(4)] = flaky(routes[page.format(4)], "malformed")
    site = site_server(make_site(tmp_path / "site", routes))
    outcome = crawl("appstore", site.base_url, app_id="42", countries="us,gb")
    assert_recovered(outcome, stored=43)
    assert outcome.stats["pages"] == 11
    assert outcome.stats["caps_hit"] == ["appstore feed stops at 10 pages (us)"]
    assert set(outcome.stats["high_water"]) == {"us", "gb", "us:id", "gb:id"}
    assert_polite(site)
    posts = crawl.posts()
    first = next(p for p in posts if p.external_id == "42:9000000")
    assert first.rating == 1.0 and first.version == "3.0.0" and first.author == "reviewer0"
    assert first.raw["im:rating"] == {"label": "1"} and first.language == "en" and first.status == "pending"

    # Second crawl, one review edited: nothing new, one row updated, only the first pages fetched.
    edited = appstore_routes("42", pages=10, per_page=4, edit_first=True)
    site2 = site_server(make_site(tmp_path / "site2", edited))
    again = crawl("appstore", site2.base_url, app_id="42", countries="us,gb")
    assert again.status == "ok" and again.stored == 0 and again.updated == 1
    assert again.stats["pages"] == 2 and again.stats["caps_hit"] == []
    assert len(crawl.posts()) == 43
    assert next(p for p in crawl.posts() if p.external_id == "42:9000000").text.startswith("Edited: ")


def test_appstore_robots_and_undated_feed(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    routes = appstore_routes("7", pages=1, per_page=2)
    routes["/us/rss/customerreviews/page=1/id=7/sortby=mostrecent/json"] = appstore_page(
        [appstore_entry(n, "7", dated=False) for n in range(3)], "7", "us", 1, 1)
    site = site_server(make_site(tmp_path / "site", routes, robots="User-agent: *\nDisallow: /gb/\n"))
    outcome = crawl("appstore", site.base_url, app_id="7", countries="us,gb")
    assert outcome.status == "partial" and "robots.txt" in (outcome.reason or "")
    assert outcome.stored == 3 and outcome.stats["robots_forbidden"] == 1
    assert all(p.created_at is None for p in crawl.posts())  # undated feed: stored without a date
    assert not any(t.startswith("/gb/") for t in site.hits())
    assert crawl.high_water(source="appstore")["us:id"] == 9_000_000  # newest review id marks the feed


# ---------------------------------------------------------------- Steam


def steam_routes(app_id: str) -> dict[str, Any]:
    cursors = ["*", "AoJ4+/c1=", "AoJ4+/c2=", "AoJ4+/c3="]
    routes: dict[str, Any] = {}
    n = 0
    for index, cursor in enumerate(cursors):
        reviews = [steam_review(n + i) for i in range(5)] if index < 3 else []
        n += len(reviews)
        next_cursor = cursors[min(index + 1, len(cursors) - 1)]
        body = steam_page(reviews, next_cursor, first=index == 0, total=15)
        query = f"json=1&filter=recent&language=all&num_per_page=100&cursor={cursor.replace('+', '%2B')}"
        routes[f"/appreviews/{app_id}?{query}"] = body
    return routes


def test_steam_crawl(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    routes = steam_routes("570")
    keys = list(routes)
    routes[keys[1]] = flaky(routes[keys[1]], "429")
    routes[keys[2]] = flaky(routes[keys[2]], "500")
    routes[keys[3]] = flaky(routes[keys[3]], "malformed")
    site = site_server(make_site(tmp_path / "site", routes))
    outcome = crawl("steam", site.base_url, app_id="570")
    assert_recovered(outcome, stored=15)
    assert outcome.stats["reported_total"] == 15 and outcome.stats["pages"] == 4
    assert_polite(site)
    assert any("cursor=AoJ4%2B%2Fc1%3D" in hit for hit in site.hits())  # cursor URL-encoded
    ratings = {p.external_id: p.rating for p in crawl.posts()}
    assert ratings["170000000"] == 1.0 and ratings["169999999"] == 5.0

    again = crawl("steam", site.base_url, app_id="570")
    assert again.status == "ok" and again.stored == 0 and again.stats["pages"] == 1


def test_steam_stops_when_cursor_repeats(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    query = "json=1&filter=recent&language=all&num_per_page=100&cursor="
    routes = {f"/appreviews/9?{query}*": steam_page([steam_review(1)], "SAME", True, 2),
              f"/appreviews/9?{query}SAME": steam_page([steam_review(2)], "SAME", False, 2)}
    site = site_server(make_site(tmp_path / "site", routes))
    # One post per batch, written by the helper process (VOXPOP_WRITER=process), in order.
    outcome = crawl("steam", site.base_url, app_id="9", settings={"VOXPOP_BATCH_SIZE": 1, "VOXPOP_WRITER": "process"})
    assert outcome.status == "ok" and outcome.stored == 2 and outcome.stats["pages"] == 2


# ---------------------------------------------------------------- Google Play

RPC = "/_/PlayStoreUi/data/batchexecute?hl=en&gl=us"


def googleplay_responses(kinds: dict[str, str] | None = None) -> list[dict[str, Any]]:
    kinds = kinds or {}
    tokens = [None, "tokPageTwo", "tokPageThree", "tokPageFour"]
    responses: list[dict[str, Any]] = []
    for index, token in enumerate(tokens):
        reviews = [googleplay_review(index * 4 + i) for i in range(4)]
        next_token = tokens[index + 1] if index + 1 < len(tokens) else None
        match = token or "[100,null,null]"
        ok = {**respond(googleplay_body(reviews, next_token)), "match_body": match}
        kind = kinds.get(token or "first")
        if kind:
            (bad, _good) = flaky(ok, kind)
            responses.append({**bad, "match_body": match})
        responses.append(ok)
    return responses


def test_googleplay_crawl(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    responses = googleplay_responses({"tokPageTwo": "429", "tokPageThree": "500", "tokPageFour": "malformed"})
    site = site_server(make_site(tmp_path / "site", {RPC: responses}))
    outcome = crawl("googleplay", site.base_url, app_id="com.notely.app")
    assert_recovered(outcome, stored=16)
    assert outcome.stats["pages"] == 4
    assert_polite(site)
    posts = crawl.posts()
    assert {p.rating for p in posts} == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert posts[0].url.startswith("https://play.google.com/store/apps/details?id=com.notely.app")
    records = site.hit_records()
    assert all(r["method"] == "POST" for r in records[1:])

    again = crawl("googleplay", site.base_url, app_id="com.notely.app")
    assert again.status == "ok" and again.stored == 0 and again.stats["pages"] == 1


# ---------------------------------------------------------------- JSON-LD


def product_page(n: int, reviews: int) -> str:
    block = {"@context": "https://schema.org", "@type": "Product", "name": f"Notely {n}",
             "aggregateRating": {"@type": "AggregateRating", "ratingValue": "4.1", "reviewCount": str(reviews + 10)},
             "review": [{"@type": "Review", "author": {"@type": "Person", "name": f"Reader {i}"},
                         "datePublished": (BASE_TIME - timedelta(days=i)).date().isoformat(),
                         "reviewBody": text_of(n * 10 + i),
                         "reviewRating": {"@type": "Rating", "ratingValue": str(1 + i % 5), "bestRating": "5"}}
                        for i in range(reviews)]}
    if reviews == 1:
        block["review"] = block["review"][0]  # review as one object, not a list
    return jsonld_html([block], title=f"Notely {n}")


def test_jsonld_crawl(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    routes: dict[str, Any] = {
        "/p/1": flaky(respond(product_page(1, 3), raw=True, headers={"Content-Type": "text/html"}), "429"),
        "/p/2": flaky(respond(product_page(2, 1), raw=True, headers={"Content-Type": "text/html"}), "500"),
        "/p/3": respond(product_page(3, 2), raw=True, headers={"Content-Type": "text/html"}),
        "/p/4": respond(jsonld_html(["{broken"]), raw=True, headers={"Content-Type": "text/html"}),
    }
    site = site_server(make_site(tmp_path / "site", routes, robots="User-agent: *\nDisallow: /p/3\n"))
    outcome = crawl("jsonld", site.base_url, urls="/p/1,/p/2,/p/3,/p/4")
    stats = outcome.stats
    assert outcome.status == "partial", outcome.reason
    assert "robots.txt" in outcome.reason and "malformed" in outcome.reason, (stats, site.hits())
    assert outcome.stored == 4 and stats["pages"] == 2
    assert stats["http_status"]["429"] == 1 and stats["http_status"]["500"] == 1
    assert stats["retry_after_honoured"] == 1 and stats["robots_forbidden"] == 1
    assert stats["malformed_pages"] == 2 and stats["malformed_skipped"] == 1  # asked twice, then given up
    assert stats["reported_total"] == {f"{site.base_url}/p/1": 13, f"{site.base_url}/p/2": 11}
    assert stats["aggregate_rating"][f"{site.base_url}/p/1"]["ratingValue"] == "4.1"
    assert "/p/3" not in site.hits()
    assert_polite(site)

    again = crawl("jsonld", site.base_url, urls="/p/1,/p/2")
    assert again.status == "ok" and again.stored == 0 and len(crawl.posts()) == 4


# ---------------------------------------------------------------- Discourse


def forum_routes(prefix: str) -> dict[str, Any]:
    t0 = BASE_TIME
    topics_1 = [discourse_topic_ref(1, t0 - timedelta(days=40), pinned=True)] + [
        discourse_topic_ref(t, t0 - timedelta(hours=10 * (40 - t)), posts=3) for t in (40, 39, 38)]
    topics_2 = [discourse_topic_ref(t, t0 - timedelta(hours=10 * (40 - t)), posts=3) for t in (37, 36)]
    routes: dict[str, Any] = {
        f"{prefix}/latest.json": discourse_list(topics_1, f"{prefix}/latest?no_definitions=true&page=1"),
        f"{prefix}/latest.json?no_definitions=true&page=1": discourse_list(topics_2, None),
    }
    for ref in topics_1 + topics_2:
        tid = ref["id"]
        when = t0 - timedelta(hours=10 * (40 - tid) + 3)
        posts = [discourse_post(tid * 100 + i, tid, i, when + timedelta(hours=i), text_of(tid + i))
                 for i in (1, 2, 3)]
        if tid == 36:  # a long topic: the last post comes from /t/36/posts.json
            routes[f"{prefix}/t/36.json"] = discourse_topic(36, posts[:2], stream=[p["id"] for p in posts])
            routes[f"{prefix}/t/36/posts.json?post_ids[]=3603"] = {"post_stream": {"posts": posts[2:]}, "id": 36}
        else:
            routes[f"{prefix}/t/{tid}.json"] = discourse_topic(tid, posts)
    return routes


def test_discourse_crawl(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    routes = forum_routes("/forum")
    routes["/forum/t/40.json"] = flaky(routes["/forum/t/40.json"], "429")
    routes["/forum/t/39.json"] = flaky(routes["/forum/t/39.json"], "500")
    routes["/forum/latest.json?no_definitions=true&page=1"] = flaky(
        routes["/forum/latest.json?no_definitions=true&page=1"], "malformed")
    site = site_server(make_site(tmp_path / "site", routes))
    base = site.base_url + "/forum"
    outcome = crawl("discourse", base, since="2026-10-01")
    assert_recovered(outcome, stored=18)  # 6 topics x 3 posts; the pinned 40-day-old topic is before `since`
    assert_polite(site)
    posts = {p.external_id: p for p in crawl.posts()}
    key = "127.0.0.1/forum"  # host and path: the same forum on another port keeps its post ids
    first = posts[f"{key}:4001"]
    assert first.title == "Topic 40: sync trouble" and first.text.startswith(text_of(41))
    assert "<p>" not in first.text and "&amp;" not in first.text
    assert first.url == f"{base}/t/topic-40-sync-trouble/40/1"
    assert f"{key}:3603" in posts

    again = crawl("discourse", base, since="2026-10-01")
    assert again.status == "ok" and again.stored == 0 and again.stats["pages"] == 1
    assert len(crawl.posts()) == 18


def test_discourse_search_and_category(tmp_path: Path, site_server: Any, crawl: CrawlHelper) -> None:
    routes = forum_routes("")
    routes["/search.json?q=sync+trouble&page=1"] = {
        "posts": [{"id": 3801, "topic_id": 38, "post_number": 1, "blurb": "sync"}],
        "topics": [{"id": 37, "title": "Topic 37: sync trouble", "slug": "topic-37-sync-trouble"}],
        "grouped_search_result": {"more_full_page_results": None, "term": "sync trouble"},
    }
    routes["/c/support.json"] = discourse_list([discourse_topic_ref(39, BASE_TIME, posts=3)], None)
    site = site_server(make_site(tmp_path / "site", routes))
    searched = crawl("discourse", site.base_url, source="forum-search", query="sync trouble")
    assert searched.status == "ok" and searched.stored == 6
    assert {p.found_by for p in crawl.posts()} == {"search:sync trouble"}
    category = crawl("discourse", site.base_url, source="forum-support", category="support")
    assert category.status == "ok" and category.stored == 3


# ---------------------------------------------------------------- robots.txt, per source


@pytest.mark.parametrize("spider,args", [
    ("appstore", {"app_id": "1"}),
    ("steam", {"app_id": "1"}),
    ("googleplay", {"app_id": "x"}),
    ("jsonld", {"urls": "/p/1"}),
    ("discourse", {}),
])
def test_robots_disallow_honoured(spider: str, args: dict[str, str], tmp_path: Path, site_server: Any,
                                  crawl: CrawlHelper) -> None:
    site = site_server(make_site(tmp_path / "site", {"/anything": {"x": 1}}, robots="User-agent: *\nDisallow: /\n"))
    outcome = crawl(spider, site.base_url, **args)
    assert_robots_forbidden(outcome, site)
    assert json.dumps(outcome.stats)  # the figures are plain JSON
