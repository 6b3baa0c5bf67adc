"""Community spiders through the crawl job: missing credentials disable one spider, the others still run;
posts that name another configured product are linked to it too."""

from __future__ import annotations

import pytest

from spiders.pages.community import compile_keywords, parse_keywords, products_named
from tests.community_sites import fixture_site, linked, load
from voxpop.config import parse_config


def test_also_argument_and_keyword_matching() -> None:
    from voxpop.operations import also_argument

    config = parse_config({"products": [
        {"slug": "notely", "name": "Notely", "keywords": ["notely"]},
        {"slug": "jotter", "name": "Jotter", "keywords": ["jotter app", "jot:ter|x"]},
        {"slug": "inkwell", "name": "Inkwell"},
    ]}, environ={})
    also = also_argument(config, "notely")
    assert also == "jotter:Jotter|jot ter x|jotter app,inkwell:Inkwell"
    patterns = compile_keywords(parse_keywords(also))
    assert products_named("Switched from Jotter's widget to inkwell", patterns) == ["inkwell", "jotter"]
    assert products_named("jotters and inkwells are not product names", patterns) == []
    assert products_named("Jotter", patterns, exclude="jotter") == []
    assert parse_keywords("my-app") == {"my-app": ["my app", "my-app"]}


@pytest.mark.slow
def test_spiders_without_credentials_disable_themselves_and_the_others_still_run(site_server, tmp_path,
                                                                                 monkeypatch) -> None:
    from voxpop.operations import crawl, open_store

    for variable in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    # one page only: the job runs with the project's polite settings (a delay between requests)
    page = {**load("hackernews", "window1_page0.json"), "nbHits": 2, "nbPages": 1}
    first_page = ("/api/v1/search_by_date?query=notely&tags=%28story%2Ccomment%29"
                  "&numericFilters=created_at_i%3E946684800&hitsPerPage=100&page=0")
    site = site_server(fixture_site(tmp_path, "hackernews", {first_page: {"json": page}}))
    database_url = f"sqlite:///{tmp_path / 'voxpop.db'}"
    config = parse_config({
        "database_url": database_url,
        "crawl": {"since": "2000-01-01"},
        "products": [
            {"slug": "notely", "name": "Notely", "sources": [
                {"name": "reddit", "spider": "reddit", "params": {"subreddits": "notetaking",
                                                                  "base_url": site.base_url}},
                {"name": "bluesky", "spider": "bluesky", "params": {"query": "notely", "base_url": site.base_url}},
                {"name": "hn", "spider": "hackernews", "params": {"query": "notely", "base_url": site.base_url}},
            ]},
            {"slug": "jotter", "name": "Jotter"},
        ],
    }, environ={})
    open_store(config).dispose()
    outcomes = {o["source"]: o for o in crawl(config, "notely")}
    assert outcomes["reddit"]["status"] == "failed"
    assert "REDDIT_CLIENT_ID" in outcomes["reddit"]["reason"]
    assert outcomes["bluesky"]["status"] == "failed"
    assert "BLUESKY_HANDLE" in outcomes["bluesky"]["reason"]
    assert outcomes["hn"]["status"] == "ok" and outcomes["hn"]["stored"] == 2
    assert all("/xrpc" not in hit and "/r/" not in hit for hit in site.hits())  # disabled: nothing asked
    assert linked(database_url, "jotter") == {"41000015"}  # the post that names Jotter


def test_each_post_is_linked_only_to_the_products_it_names(sqlite_url, sqlite_store) -> None:
    from store.repo import PostRecord, ensure_product, upsert_posts

    with sqlite_store.transaction() as session:
        ours, rival, other = (ensure_product(session, slug) for slug in ("notely", "jotter", "inkwell"))
        upsert_posts(session, ours.id, [
            PostRecord(source="reddit", external_id="t3_a", text="Notely vs Jotter", extra_product_ids=(rival.id,)),
            PostRecord(source="reddit", external_id="t3_b", text="Notely and Inkwell", extra_product_ids=(other.id,)),
            PostRecord(source="reddit", external_id="t3_c", text="Only Notely"),
        ])
    assert linked(sqlite_url, "notely") == {"t3_a", "t3_b", "t3_c"}
    assert linked(sqlite_url, "jotter") == {"t3_a"} and linked(sqlite_url, "inkwell") == {"t3_b"}
