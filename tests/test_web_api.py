"""The dashboard's JSON API and pages over a real server: search, filters, issues, compare, alerts, status."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.web_data import HOSTILE_URL
from tests.web_support import Server


def _ids(server: Server, **params: str) -> list[int]:
    status, data = server.get_json("/api/posts?" + urlencode(params))
    assert status == 200, data
    return [p["id"] for p in data["posts"]]


def test_full_text_search_finds_words_and_phrases(seeded_server_any: Server) -> None:
    s = seeded_server_any
    sync_posts = _ids(s, q="sync")
    assert len(sync_posts) == 6  # five "sync" posts plus the duplicate text; not the dark-mode ones
    assert s.seeded.posts["Please add a dark mo"] not in sync_posts
    assert _ids(s, q='"dark mode"') == [s.seeded.posts["Please add a dark mo"]]
    both = _ids(s, q="sync update")
    assert s.seeded.posts["Sync keeps failing s"] in both and s.seeded.posts["Sync fails every mor"] not in both
    assert _ids(s, q="xylophone") == []
    status, data = s.get_json("/api/posts?" + urlencode({"q": "sync"}))
    assert status == 200 and all("step" in p for p in data["posts"])  # the job map's step of each post
    # operators and quotes in the words are text, never a syntax error
    for hostile in ('sync" OR "x', "NEAR(", "*", "-", "a:b", "'; DROP TABLE posts; --"):
        assert s.get_json("/api/posts?" + urlencode({"q": hostile}))[0] == 200


def test_filters_combine_and_urls_are_bookmarkable(seeded_server_any: Server) -> None:
    s = seeded_server_any
    negative_notely = _ids(s, product="notely", sentiment="negative", rating_max="2")
    assert len(negative_notely) == 5
    assert _ids(s, product="notely", sentiment="negative", rating_max="2", q="editor") == [
        s.seeded.posts["The editor lags when"]]
    jotter = {s.seeded.posts[k] for k in ("Jotter sync is rock ", "Sync conflicts creat", "Wish jotter had tags")}
    assert set(_ids(s, product="jotter")) == jotter
    assert len(_ids(s, need="feature_request")) == 3
    assert _ids(s, job="export") == [s.seeded.posts["Exporting to PDF wor"]]
    assert len(_ids(s, version="5.1")) == 2
    us, gb = set(_ids(s, country="us")), set(_ids(s, country="gb"))
    assert us and gb and not us & gb and len(us | gb) == 15
    assert _ids(s, label_source="human") == []
    assert len(_ids(s, label_source="model")) == 15
    oldest = _ids(s, sort="oldest")
    assert oldest == list(reversed(_ids(s)))
    members = _ids(s, issue=str(s.seeded.issues["dark"]))
    assert sorted(members) == sorted([s.seeded.posts["Please add a dark mo"], s.seeded.posts["A dark theme would b"]])
    # the page for the same query string shows the same posts
    status, _, html = s.request("GET", "/posts?" + urlencode({"product": "notely", "q": "editor"}))
    assert status == 200 and "The editor lags when a note has many images" in html and "white page hurts" not in html


def test_bad_filters_get_one_clear_line(seeded_server: Server) -> None:
    for query, word in (("sentiment=angry", "sentiment"), ("since=yesterday", "since"), ("rating_min=9", "rating_min"),
                        ("product=nope", "product"), ("page=0", "page")):
        status, data = seeded_server.get_json(f"/api/posts?{query}")
        assert status == 400 and data["error"].startswith(word), data
    status, _, html = seeded_server.request("GET", "/posts?sentiment=angry")
    assert status == 400 and 'id="error"' in html and "sentiment: one of" in html


def test_issue_list_filters_and_sorts(seeded_server: Server) -> None:
    s = seeded_server
    status, data = s.get_json("/api/issues?product=notely&sort=size")
    assert status == 200
    labels = [i["label"] for i in data["issues"]]
    assert labels[0] == "sync fails after update" and set(labels) == {
        "sync fails after update", "sync stopped working", "dark mode wanted", "editor lags with images"}
    _, rising = s.get_json("/api/issues?state=rising")
    assert {i["label"] for i in rising["issues"]} == {"dark mode wanted", "sync conflicts duplicate notes"}
    _, by_version = s.get_json("/api/issues?version=5.1")
    assert [i["label"] for i in by_version["issues"]] == ["dark mode wanted"]
    _, by_rise = s.get_json("/api/issues?product=notely&sort=rise")
    rises = [i["rise"] for i in by_rise["issues"]]
    assert rises == sorted(rises, reverse=True) and rises[0] == 3
    assert s.get_json("/api/issues?sort=loudest")[0] == 400


def test_issue_detail_has_quotes_versions_competitors_and_safe_links(seeded_server: Server) -> None:
    s = seeded_server
    status, issue = s.get_json(f"/api/issues/{s.seeded.issues['sync']}")
    assert status == 200
    texts = [q["text"] for q in issue["quotes"]]
    assert len(texts) == len(set(texts)) == 3
    assert all(q["url"].startswith("https://") for q in issue["quotes"])
    assert issue["versions"] == [{"version": "5.2", "count": 3}]
    assert [c["label"] for c in issue["competitors"]] == ["sync conflicts duplicate notes"]  # same centroid
    assert issue["figures"]["p_value"] == 0.002 and sum(d["count"] for d in issue["daily"]) == 3
    assert s.get_json("/api/issues/999999")[0] == 404
    _, _, html = s.request("GET", f"/issues/{s.seeded.issues['sync']}")
    assert "Binomial test of the rise" in html and "apps.example.com/notely/review/0" in html


def test_overview_compare_alerts_status_and_health(seeded_server: Server) -> None:
    s = seeded_server
    status, overview = s.get_json("/api/overview")
    assert status == 200
    notely = next(p for p in overview["products"] if p["slug"] == "notely")
    assert notely["now"]["volume"] == 8 and notely["before"]["volume"] == 2
    assert [i["label"] for i in notely["issues"]][:2] == ["sync fails after update", "dark mode wanted"]
    assert notely["crawl"][0]["status"] == "ok"
    status, compare = s.get_json("/api/compare?days=30&products=notely&products=jotter")
    assert status == 200 and [p["slug"] for p in compare["products"]] == ["notely", "jotter"]
    assert compare["products"][0]["volume"] == 10
    _, _, page = s.request("GET", "/compare?days=30")
    assert 'id="opportunity"' in page and "Notely" in page
    status, alerts = s.get_json("/api/alerts")
    assert status == 200 and alerts["alerts"][0]["deliveries"][0]["status"] == "sent"
    assert "sync fails after update" in alerts["alerts"][0]["subject"]
    assert s.get_json("/api/alerts?status=failed")[1]["alerts"] == []
    status, state = s.get_json("/api/status")
    assert status == 200 and {c["held"] for c in state["coverage"]} == {10, 3, 2}
    _, _, html = s.request("GET", "/status")
    assert "we hold 10 of about 40" in html
    assert "we hold 3 of about 24" in html and "shop.example" not in html  # totals per URL are summed
    assert {c["reported_total"] for c in state["coverage"]} == {40, 24}
    assert s.get_json("/healthz") == (200, {"ok": True, "database": s.store.dialect})
    assert HOSTILE_URL not in s.request("GET", "/alerts")[2]


def test_common_and_rare_words_give_the_same_posts(seeded_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite lists the matches of a rare term and probes row by row for a common one: same answers either way."""
    import store.search

    s = seeded_server
    queries = [{"q": "sync"}, {"q": "sync", "product": "notely", "sort": "oldest"}, {"q": '"dark mode"'},
               {"q": "sync*", "sentiment": "negative"}, {"q": "xylophone"}]
    listed = [_ids(s, **q) for q in queries]
    monkeypatch.setattr(store.search, "probe_threshold", lambda _session: 1)
    probed = [_ids(s, **q) for q in queries]
    assert probed == listed and [len(x) for x in listed] == [6, 4, 1, 5, 0]
