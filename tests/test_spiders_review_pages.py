"""Parsing tests of the five review sources from saved bodies in the real shapes (no engine)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from spiders.pages import appstore, discourse, googleplay, jsonld, steam
from spiders.pages.common import MalformedBody
from spiders.pipelines import normalize_item

FIXTURES = Path(__file__).parent / "fixtures" / "sites"


def body(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


# ---------------------------------------------------------------- App Store

def test_appstore_page_skips_app_entry_and_reads_reviews() -> None:
    page = appstore.parse_feed(body("appstore/page1_us.json"), "us", "900000001")
    assert page.skipped_app_entries == 1
    assert page.last_page == 2
    assert [p["rating"] for p in page.posts] == [1.0, 2.0, 3.0]
    first = page.posts[0]
    assert first["external_id"] == "900000001:9000000"
    assert first["author"] == "reviewer0" and first["version"] == "3.0.0" and first["title"] == "Title 0"
    assert first["created_at"] == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert first["raw"]["im:voteSum"] == {"label": "0"}
    cleaned = normalize_item(dict(page.posts[1], source="appstore"))
    assert cleaned.text == "Sync keeps failing\n\nwhen I switch devices."
    assert cleaned.language == "en"


def test_appstore_undated_single_and_empty_pages() -> None:
    undated = appstore.parse_feed(body("appstore/page_undated.json"), "us", "900000001")
    assert len(undated.posts) == 2 and all(p["created_at"] is None for p in undated.posts)
    assert normalize_item(dict(undated.posts[0], source="appstore")).created_at is None  # kept, not dropped
    single = appstore.parse_feed(body("appstore/page_single_entry.json"), "gb", "900000001")
    assert len(single.posts) == 1 and single.posts[0]["found_by"] == "appstore:gb"
    empty = appstore.parse_feed(body("appstore/page_empty.json"), "us", "900000001")
    assert empty.posts == [] and empty.last_page == 2
    assert appstore.feed_url("http://h", "us", "1", 3) == "http://h/us/rss/customerreviews/page=3/id=1/sortby=mostrecent/json"


@pytest.mark.parametrize("raw", [b"<html>busy</html>", b'{"feed": "nope"}', b'{"feed": {"entry": [1]}}'])
def test_appstore_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        appstore.parse_feed(raw, "us", "1")


# ---------------------------------------------------------------- Steam

def test_steam_page() -> None:
    page = steam.parse_reviews(body("steam/page1.json"), "570")
    assert page.total == 1234 and page.cursor == "AoJ4+/fW3fcCf6v8jQE="
    assert [p["rating"] for p in page.posts] == [1.0, 5.0, 5.0]  # voted_up -> 5, else 1
    assert [p["language"] for p in page.posts] == ["en", "en", "other"]
    assert page.posts[0]["external_id"] == "170000000"
    assert page.posts[0]["created_at"] == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert page.posts[1]["url"] == "https://steamcommunity.com/profiles/76561198000000001/recommended/570/"
    last = steam.parse_reviews(body("steam/page_last.json"), "570")
    assert last.posts == [] and last.total is None


def test_steam_cursor_is_url_encoded() -> None:
    url = steam.reviews_url("http://h", "570", "AoJ4+/fW3fcCf6v8jQE=")
    assert "cursor=AoJ4%2B%2FfW3fcCf6v8jQE%3D" in url
    query = parse_qs(urlsplit(url).query)
    assert query == {"json": ["1"], "filter": ["recent"], "language": ["all"], "num_per_page": ["100"],
                     "cursor": ["AoJ4+/fW3fcCf6v8jQE="]}


@pytest.mark.parametrize("raw", [b"not json", b'{"success": 2}', b'{"success": 1, "reviews": {}}'])
def test_steam_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        steam.parse_reviews(raw, "570")


# ---------------------------------------------------------------- Google Play

def test_googleplay_page_and_token() -> None:
    page = googleplay.parse_reviews(body("googleplay/page1.txt"), "com.notely.app")
    assert page.token == "CsYBCoQBQVBFOWxpbm9rZW4xMjM0"
    assert len(page.posts) == 4
    first = page.posts[0]
    assert first["external_id"] == "gp:AOqpTO0000000000" and first["author"] == "Player 0"
    assert first["rating"] == 1.0 and first["version"] == "5.0.1"
    assert first["created_at"] == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert first["raw"]["has_reply"] is True and page.posts[1]["raw"]["has_reply"] is False
    last = googleplay.parse_reviews(body("googleplay/page_last.txt"), "com.notely.app")
    assert last.token is None and len(last.posts) == 1


def test_googleplay_request_body_shape() -> None:
    form = parse_qs(googleplay.rpc_body("com.notely.app", "TOKEN1", count=50))
    outer = json.loads(form["f.req"][0])
    assert outer[0][0][0] == "UsvDTd" and outer[0][0][3] == "generic"
    inner = json.loads(outer[0][0][1])
    assert inner == [None, None, [2, 2, [50, None, "TOKEN1"], None, [None, None]], ["com.notely.app", 7]]
    first = json.loads(json.loads(parse_qs(googleplay.rpc_body("x"))["f.req"][0])[0][0][1])
    assert first[2][2] == [100, None, None]
    assert googleplay.rpc_url("https://play.google.com", "en", "us") == \
        "https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=en&gl=us"


@pytest.mark.parametrize("raw", [
    b")]}'\n\n<html>", b")]}'\n\n[[\"di\", 1]]", b")]}'\n\n[[\"wrb.fr\",\"UsvDTd\",\"{]\"]]",
])
def test_googleplay_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        googleplay.parse_reviews(raw, "x")


def test_googleplay_empty_answer_is_the_end() -> None:
    page = googleplay.parse_reviews(b")]}'\n\n[[\"wrb.fr\",\"UsvDTd\",null,null,null,null,\"generic\"]]", "x")
    assert page.posts == [] and page.token is None


# ---------------------------------------------------------------- JSON-LD

def test_jsonld_graph_with_best_rating() -> None:
    page = jsonld.parse_page(body("jsonld/graph.html"), "https://shop.example/notely")
    assert page.aggregate == {"ratingValue": "8.6", "bestRating": "10", "reviewCount": "42"}
    assert jsonld.reported_count(page.aggregate) == 42
    assert [p["rating"] for p in page.posts] == [4.5, 2.0, 4.5]  # 9/10, 4/10 scaled; 4.5 of default 5
    assert [p["author"] for p in page.posts] == ["Ana", "Bo", "Cy"]
    assert page.posts[0]["created_at"] == datetime(2026, 10, 2, tzinfo=UTC)
    assert page.posts[1]["created_at"] == datetime(2026, 9, 15, 6, 30, tzinfo=UTC)
    assert page.posts[2]["created_at"] == datetime(2026, 10, 1, tzinfo=UTC)
    assert page.posts[0]["found_by"] == "Notely Pro" and page.posts[0]["title"] == "Great for class"
    assert normalize_item(dict(page.posts[0], source="jsonld")).text == \
        "Handwriting search is excellent for my lecture notes."
    ids = {p["external_id"] for p in page.posts}
    assert len(ids) == 3 and ids == {p["external_id"] for p in
                                     jsonld.parse_page(body("jsonld/graph.html"), "https://shop.example/notely").posts}


def test_jsonld_single_review_object_and_a_broken_block() -> None:
    page = jsonld.parse_page(body("jsonld/single.html"), "https://reviews.example/notely")
    assert page.blocks == 2 and page.bad_blocks == 1
    (post,) = page.posts
    assert post["external_id"] == "https://reviews.example/r/77"
    assert post["author"] == "Tech Weekly" and post["rating"] == 3.5 and post["found_by"] == "Notely"
    assert post["text"] == "A tidy note app with fast search & reliable sync."


def test_jsonld_malformed_and_empty() -> None:
    with pytest.raises(MalformedBody):
        jsonld.parse_page(body("jsonld/bad.html"), "https://x.example/")
    assert jsonld.parse_page(b"<html><p>no data</p></html>", "https://x.example/").posts == []
    assert jsonld.scale_rating({"ratingValue": "7", "bestRating": "5"}) == 5.0  # clamped
    assert jsonld.scale_rating({"ratingValue": "n/a"}) is None


# ---------------------------------------------------------------- Discourse

def test_discourse_latest() -> None:
    listing = discourse.parse_topic_list(body("discourse/latest.json"))
    assert [t.id for t in listing.topics] == [8, 31, 30]
    assert listing.topics[0].pinned and not listing.topics[1].pinned
    assert listing.topics[1].bumped_at == datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    assert listing.more_url == "/latest?no_definitions=true&page=1"
    assert discourse.absolute("http://h:1/forum", listing.more_url) == \
        "http://h:1/forum/latest.json?no_definitions=true&page=1"
    assert discourse.absolute("https://f.example", "/latest.json?page=2") == "https://f.example/latest.json?page=2"
    assert discourse.absolute("http://h/forum", "/forum/c/5/l/latest?page=1") == "http://h/forum/c/5/l/latest.json?page=1"


def test_discourse_topic_posts() -> None:
    topic = discourse.parse_topic(body("discourse/topic_31.json"), "https://forum.example", "latest")
    # the small-action post (post_type 3) is left out
    assert [p["external_id"] for p in topic.posts] == ["forum.example:3101", "forum.example:3103"]
    assert topic.missing_ids == [3104, 3105]
    first = normalize_item(dict(topic.posts[0], source="discourse"))
    assert first.text == ("Sync stopped working after the 4.2 update on my tablet.\n\n"
                          "Posted from the desktop app & synced.")
    assert first.title == "Topic 31: sync trouble" and topic.posts[1]["title"] is None
    assert first.url == "https://forum.example/t/topic-31-sync-trouble/31/1"
    more = discourse.parse_topic_posts(body("discourse/topic_31_posts.json"), "https://forum.example", 31,
                                       topic.slug, topic.title)
    assert [p["external_id"] for p in more] == ["forum.example:3104", "forum.example:3105"]
    url = discourse.posts_url("https://forum.example", 31, [3104, 3105])
    assert unquote(urlsplit(url).query) == "post_ids[]=3104&post_ids[]=3105"


def test_discourse_search_shapes() -> None:
    listing, more = discourse.parse_search(body("discourse/search.json"))
    assert more is True and [t.id for t in listing.topics] == [31, 44]
    old = json.dumps([{"type": "topic", "name": "Topics", "more": False, "results": [{"id": 7, "title": "t"}]}])
    listing, more = discourse.parse_search(old)
    assert [t.id for t in listing.topics] == [7] and more is False
    with pytest.raises(MalformedBody):
        discourse.parse_search(b'"text"')
    with pytest.raises(MalformedBody):
        discourse.parse_topic(b'{"post_stream": {}}', "https://f")
