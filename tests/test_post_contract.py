"""One post contract: the crawl and ``voxpop import`` validate through the same function, with the same limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from spiders.pipelines import Dropped, normalize_item
from store.io import parse_import_row
from voxpop.core.post import MAX_TEXT_CHARS, InvalidPost, PostRecord, validate_post


def _both(**fields: Any) -> tuple[PostRecord | str, PostRecord | str]:
    """The crawl's and the import's answer for one post (a record, or the drop reason / error text)."""
    crawl_fields = {"source": "import", "external_id": fields.get("id"), "text": fields.get("text"),
                    "rating": fields.get("rating"), "created_at": fields.get("date"), "url": fields.get("url")}
    try:
        crawled: PostRecord | str = normalize_item(crawl_fields)
    except Dropped as exc:
        crawled = exc.reason
    try:
        imported: PostRecord | str = parse_import_row(fields, "import")
    except InvalidPost as exc:
        imported = exc.reason
    return crawled, imported


@pytest.mark.parametrize("rating,reason", [(0, "bad_rating"), (5.5, "bad_rating"), (-1, "bad_rating"),
                                           ("x", "bad_rating"), (1, None), (5, None), (3.5, None)])
def test_rating_range_is_the_same_for_crawl_and_import(rating: Any, reason: str | None) -> None:
    crawled, imported = _both(id="a", text="Sync broke after the update", rating=rating)
    if reason:
        assert crawled == imported == reason
    else:
        assert isinstance(crawled, PostRecord) and isinstance(imported, PostRecord)
        assert crawled.rating == imported.rating == float(rating)


@pytest.mark.parametrize("url,kept", [("https://a.example/r/1", True), ("http://a.example/r/1", True),
                                      ("javascript:alert(1)", False), ("data:text/html,x", False),
                                      ("ftp://a.example/x", False), ("https://a.example/\r\nX: y", False)])
def test_only_http_urls_are_passed_on_by_crawl_and_import(url: str, kept: bool) -> None:
    crawled, imported = _both(id="a", text="Export crashes", url=url)
    assert isinstance(crawled, PostRecord) and isinstance(imported, PostRecord)
    assert crawled.url == imported.url == (url if kept else None)


def test_text_cap_dates_and_bidi_are_the_same_for_crawl_and_import() -> None:
    text = "\u202eevil\u202c " + "word " * (MAX_TEXT_CHARS // 4)
    crawled, imported = _both(id=12, text=text, date="2026-11-20T10:00:00+02:00")
    assert isinstance(crawled, PostRecord) and isinstance(imported, PostRecord)
    assert len(crawled.text) == len(imported.text) == MAX_TEXT_CHARS
    assert crawled.text.startswith("evil word") and "\u202e" not in imported.text
    assert crawled.created_at == imported.created_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert crawled.external_id == imported.external_id == "12"
    assert crawled.content_hash() == imported.content_hash()


@pytest.mark.parametrize("fields,reason", [({"text": "  "}, "missing_text"), ({"text": None}, "missing_text"),
                                           ({"id": None}, "missing_external_id"), ({"date": "soonish"}, "bad_date")])
def test_unusable_posts_get_the_same_reason(fields: dict[str, Any], reason: str) -> None:
    assert _both(**{"id": "a", "text": "fine text here", **fields}) == (reason, reason)


def test_validator_reasons_read_as_one_line() -> None:
    with pytest.raises(InvalidPost, match=r"^bad rating 9 \(expected a number 1-5\)$"):
        validate_post(source="s", external_id="1", text="t", rating=9)
