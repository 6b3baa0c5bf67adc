"""Text safety at the edges: bidi and invisible controls never reach a page, URLs are http(s) after stripping.

The walk puts hostile values straight into every text field the config and the posts can hold (as an older
store or another writer might have them) and reads every dashboard page and its API twin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from store.db import Store
from store.models import Classification, CrawlRun, Issue, IssueCuration, Post, Product, Source
from tests.cli_support import invoke
from tests.web_support import Server, start
from voxpop.config import parse_config
from voxpop.core.text import clean_url

BIDI = "\u202e\u2067\u200f\u061c\u200b\ufeff"
EVIL = f"Ev{BIDI}il <b>x</b>"
_BAD = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\ufeff]")


def test_config_names_lose_bidi_and_invisible_controls() -> None:
    config = parse_config({"products": [{"slug": "acme", "name": f"Ac\u202eme{BIDI}", "sources": [
        {"spider": "appstore", "name": "ios\u2066 store", "params": {"app_id": "1"}}]}]}, "t.toml", environ={})
    assert config.products[0].name == "Acme"
    assert config.products[0].sources[0].name == "ios store"
    with pytest.raises(ValueError, match="visible characters"):
        parse_config({"products": [{"slug": "acme", "name": "\u202e\u200b"}]}, "t.toml", environ={})


@pytest.mark.parametrize("url,expected", [
    ("https://ex.com/\u202eexe.txt", "https://ex.com/exe.txt"), ("java\u200bscript:alert(1)", None),
    ("\u202ehttps://ex.com/a", "https://ex.com/a"), ("https://ex.com:99999/", None), ("ftp://ex.com/", None),
    ("https:///nohost", None), ("https://ex.com/a b", None), ("https://ex.com/\x00", "https://ex.com/"),
])
def test_urls_are_http_after_stripping(url: str, expected: str | None) -> None:
    assert clean_url(url) == expected


def test_import_strips_bidi_from_the_url_too(sqlite_url: str, tmp_path: Path) -> None:
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"id": "r1", "text": "Crashes \u202eon export", "title": "Bad\u202e",
                                "url": "https://ex.com/r/\u202e1gpj.exe", "date": "2026-01-02"}) + "\n")
    assert invoke("import", "--input", str(rows), "--product", "acme", db_url=sqlite_url).exit_code == 0
    store = Store(sqlite_url)
    for server in start(store):
        status, data = server.get_json("/api/posts?product=acme")
        assert status == 200
        post = data["posts"][0]
        assert post["url"] == "https://ex.com/r/1gpj.exe" and post["title"] == "Bad"
    store.dispose()


@pytest.fixture
def hostile_server(store: Store, tmp_path: Path) -> Iterator[Server]:
    config = parse_config({"products": [{"slug": "notely", "name": "Notely", "own": True, "jobs": [
        {"id": "sync", "statement": f"Keep notes in sync{BIDI}"}]}]}, "t.toml", environ={})
    for server in start(store, config):
        with store.transaction() as session:
            session.execute(update(Product).values(name=EVIL))
            session.execute(update(Source).values(name=EVIL))
            session.execute(update(Post).values(author=EVIL, title=EVIL, text=EVIL, version=EVIL,
                                                 language="e\u202e\u200bn", found_by=EVIL, url=f"https://ex.com/\u202e{BIDI}"))
            session.execute(update(Classification).values(evidence=EVIL, top_job=EVIL))
            session.execute(update(Issue).values(label=EVIL, keywords=[EVIL, EVIL]))
            session.execute(update(CrawlRun).values(status="partial", spider=EVIL, stats={"error": EVIL,
                                                                                        "caps_hit": [EVIL]}))
            issue_id = session.scalars(select(Issue.id)).first()
            session.merge(IssueCuration(issue_id=issue_id, label=EVIL, updated_at=datetime.now(UTC), updated_by=EVIL))
        yield server


def test_every_page_shows_hostile_values_without_their_controls(hostile_server: Server) -> None:
    s = hostile_server
    issue = next(iter(s.seeded.issues.values()))
    pages = ["/", "/?days=30", "/issues", "/issues?state=active", f"/issues/{issue}", "/posts", "/posts?sort=rating",
             f"/posts?issue={issue}", "/posts?q=Ev", "/compare", "/compare?days=30", "/alerts", "/status"]
    for path in pages:
        status, _, html = s.request("GET", path)
        assert status == 200, (path, status, html[:400])
        assert not _BAD.search(html), (path, _BAD.search(html))
        assert "<b>x</b>" not in html
        assert 'href="javascript' not in html.lower()
    status, data = s.get_json("/api/posts")
    assert status == 200 and data["posts"]
    assert all(p["url"] == "https://ex.com/" for p in data["posts"])
