"""Stack Exchange: page parsing from our fixtures, and real crawls against the local site server."""

from __future__ import annotations

import pytest

from spiders.pages import stackexchange as pages
from spiders.pages.common import MalformedBody
from tests.community_sites import body, fixture_site, hit_times

PAGE2 = ("/2.3/search/advanced?site=softwarerecs&q=notely&filter=withbody&pagesize=100&page=2&sort=creation"
         "&order=desc&fromdate=946684800")


def test_parse_search_reads_questions_and_wrapper_fields() -> None:
    page = pages.parse_search(body("stackexchange", "page1.json"), found_by="softwarerecs search:notely")
    assert page.next == "more"
    assert page.info["backoff"] == 1 and page.info["quota_remaining"] == 298 and page.info["has_more"] is True
    first, second = page.posts
    assert first["external_id"] == "91004"
    assert first["title"] == "Note-taking app like Notely that works fully offline?"
    assert first["text"].startswith("I like Notely, but it refuses") and "stores notes locally" in first["text"]
    assert first["author"] == "offline_olly" and first["created_at"] == "2026-11-20T14:00:00+00:00"
    assert first["url"] == "https://softwarerecs.stackexchange.com/questions/91004/note-taking-app-like-notely-that-works-fully-offline"
    assert second["title"] == "Alternative to Jotter with tags & nested notebooks"  # titles come HTML-escaped
    last = pages.parse_search(body("stackexchange", "page2.json"))
    assert last.next is None and "backoff" not in last.info
    assert last.posts[0]["title"] == 'Export Notely notes to ".docx" in bulk'


def test_parse_search_reads_error_wrappers_and_rejects_malformed_bodies() -> None:
    page = pages.parse_search(body("stackexchange", "throttled.json"))
    assert page.posts == [] and page.info["error_name"] == "throttle_violation"
    with pytest.raises(MalformedBody):
        pages.parse_search(b"\x1f\x8b\x08 not json")
    with pytest.raises(MalformedBody, match="items"):
        pages.parse_search(b'{"items": {"question_id": 1}}')


@pytest.mark.slow
def test_crawl_obeys_backoff_reads_every_page_then_nothing_twice(site_server, crawl, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("STACKEXCHANGE_KEY", raising=False)
    site = site_server(fixture_site(tmp_path, "stackexchange"))
    first = crawl("stackexchange", site.base_url, product="notely", site="softwarerecs", query="notely")
    assert first.status == "ok", first.reason
    assert first.stored == 3
    assert first.stats["quota_remaining"] == 297 and first.stats["backoff_s"] == 1
    records = site.hit_records()
    (page1_at,) = hit_times(records, "page=1&")
    (page2_at,) = hit_times(records, "page=2&")
    assert page2_at - page1_at >= 0.95  # backoff: 1 was obeyed before the next request to the method
    assert first.stats["waits"] == 1
    posts = crawl.posts("stackexchange")
    assert len({p.external_id for p in posts}) == len(posts) == 3
    assert {p.found_by for p in posts} == {"softwarerecs search:notely"}

    second = crawl("stackexchange", site.base_url, product="notely", site="softwarerecs", query="notely")
    assert second.status == "ok", second.reason
    assert (second.stored, second.updated) == (0, 0) and len(crawl.posts("stackexchange")) == 3
    assert [h for h in site.hits()[len(records):] if "fromdate=1795183200" in h]  # from the high-water mark


@pytest.mark.slow
def test_throttle_violation_is_waited_out_and_a_malformed_page_counted(site_server, crawl, tmp_path,
                                                                         monkeypatch) -> None:
    monkeypatch.delenv("STACKEXCHANGE_KEY", raising=False)
    root = fixture_site(tmp_path, "stackexchange", {
        PAGE2: [{"status": 400, "body": "throttled.json", "times": 1},
                {"text": "{\"items\": [{\"question_id\": 3,", "headers": {"Content-Type": "application/json"}}],
    })
    site = site_server(root)
    outcome = crawl("stackexchange", site.base_url, product="notely", site="softwarerecs", query="notely")
    throttled_at, retried_at, *_ = hit_times(site.hit_records(), "page=2&")
    assert retried_at - throttled_at >= 0.95  # "more requests available in 1 seconds"
    assert outcome.status == "partial" and outcome.stats["malformed_pages"] == 2  # asked once more, then skipped
    assert outcome.stored == 2


@pytest.mark.slow
def test_refused_key_ends_the_crawl_with_a_clear_message(site_server, crawl, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STACKEXCHANGE_KEY", "fixture-key")
    root = fixture_site(tmp_path, "stackexchange", {
        "/2.3/search/advanced": {"status": 401, "body": "bad_key.json"}})
    site = site_server(root)
    outcome = crawl("stackexchange", site.base_url, product="notely", site="softwarerecs", query="notely")
    assert outcome.status == "failed"
    assert "authentication failed: HTTP 401" in outcome.reason and "STACKEXCHANGE_KEY" in outcome.reason
    (hit,) = site.hits()
    assert "key=fixture-key" in hit
