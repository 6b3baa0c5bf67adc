"""Per-sentence sentiment stored and shown (issue 28): the real model on a real SQLite store, export, API and page."""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select, text

from store.db import Store
from store.models import Classification, Post

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PRAISE = "I love the clean design and the search is superb."
COMPLAINT = "But sync is broken and my notes vanish every single day."
HOSTILE = "The <script>alert(1)</script> export crashes every time & I lose my notes."
CONFIG = """
database_url = "{url}"

[[products]]
slug = "notely"
name = "Notely"
own = true
"""


def test_a_mixed_review_stores_both_sentiments_and_the_page_shows_them(tmp_path: Path, sqlite_url: str) -> None:
    from tests.web_support import serve
    from voxpop import operations
    from voxpop.config import load_config
    from voxpop.web.app import create_app

    cfg_path = tmp_path / "voxpop.toml"
    cfg_path.write_text(CONFIG.format(url=sqlite_url), encoding="utf-8")
    cfg = load_config(str(cfg_path))
    posts = tmp_path / "posts.jsonl"
    rows = [{"id": "mixed", "text": f"{PRAISE} {COMPLAINT}", "rating": 3, "date": "2026-11-02"},
            {"id": "hostile", "text": f"{HOSTILE} Second sentence about the PDF file.", "rating": 1,
             "date": "2026-11-02"}]
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = Store(sqlite_url)
    try:
        operations.import_file(store, cfg, "notely", posts)
        assert operations.classify_pending(store, cfg).classified == 2
        with store.sessions() as session:
            stored = {k: c for k, c in session.execute(
                select(Post.external_id, Classification).join(Classification, Classification.post_id == Post.id))}
        mixed = stored["mixed"]
        assert (mixed.sentiment, mixed.mixed) == ("neutral", True)
        assert mixed.sentences == [{"text": PRAISE, "sentiment": "positive"},
                                   {"text": COMPLAINT, "sentiment": "negative"}]
        assert stored["hostile"].mixed is False and stored["hostile"].sentences[0]["text"] == HOSTILE

        out = io.StringIO()
        operations.export_posts(store, "notely", "jsonl", out)
        exported = {r["external_id"]: r for r in map(json.loads, out.getvalue().splitlines())}
        assert exported["mixed"]["mixed"] is True and exported["mixed"]["sentences"] == mixed.sentences
        out = io.StringIO()
        operations.export_posts(store, "notely", "csv", out)
        assert "sentences" in out.getvalue().splitlines()[0].split(",")

        for url in serve(create_app(store, cfg)):
            import urllib.request

            with urllib.request.urlopen(f"{url}/api/posts?product=notely", timeout=30) as response:
                api = {p["id"]: p for p in json.load(response)["posts"]}
            assert api[mixed.post_id]["mixed"] is True
            assert [s["sentiment"] for s in api[mixed.post_id]["sentences"]] == ["positive", "negative"]
            with urllib.request.urlopen(f"{url}/posts?product=notely", timeout=30) as response:
                page = response.read().decode()
        block = page[page.index(f'id="post-{mixed.post_id}"'):]
        block = block[:block.index("</tr>")]
        assert "mixed · sentiment per sentence" in block and "(mixed)" in block
        for sentence, sentiment in ((PRAISE, "positive"), (COMPLAINT, "negative")):
            assert f'<span class="sentence-sentiment {sentiment}">{sentiment}</span> ' \
                   f'<span class="sentence-text">{html.escape(sentence)}</span>' in block
        assert "<script>alert(1)" not in page and html.escape(HOSTILE) in page
    finally:
        store.dispose()


def test_migration_0020_adds_and_drops_the_columns_and_keeps_rows(db_url: str) -> None:
    from alembic import command

    from store.db import alembic_config, make_engine

    config = alembic_config(db_url)
    command.upgrade(config, "0016")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO products (id, slug, name, own, created_at) VALUES (1, 'a', 'A', true, "
                          "'2026-11-01 00:00:00')"))
        conn.execute(text("INSERT INTO posts (id, source, external_id, product_id, text, created_at, fetched_at, "
                          "content_hash, status) VALUES (1, 'import', 'x', 1, 't', '2026-11-01 00:00:00', "
                          "'2026-11-01 00:00:00', 'h', 'classified')"))
        conn.execute(text("INSERT INTO classifications (id, post_id, model_version, sentiment, sentiment_score, "
                          "need_type, need_score, unmet_need, jobs, classified_at) VALUES (1, 1, 'm', 'neutral', 0, "
                          "'other', 0.5, false, '[]', '2026-11-01 00:00:00')"))
    engine.dispose()
    command.upgrade(config, "0020")
    store = Store(db_url)
    try:
        with store.transaction() as session:
            row = session.scalar(select(Classification))
            assert row is not None and (row.sentences, row.mixed) == (None, None)  # classified before 0020
            row.sentences, row.mixed = [{"text": "t", "sentiment": "neutral"}], False
        with store.sessions() as session:
            assert session.scalar(select(Classification.sentences)) == [{"text": "t", "sentiment": "neutral"}]
    finally:
        store.dispose()
    command.downgrade(config, "0016")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM classifications")).scalar() == 1
    engine.dispose()
    with pytest.raises(Exception, match="(?i)sentences"):
        with make_engine(db_url).connect() as conn:
            conn.execute(text("SELECT sentences FROM classifications"))
    command.upgrade(config, "head")
