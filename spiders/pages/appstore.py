"""App Store customer-reviews feed (``/{country}/rss/customerreviews/page=N/id=APP/sortby=mostrecent/json``).

One page holds up to 50 entries, newest first, and the feed stops at page 10. Each entry carries
``id``, ``author.name``, ``im:rating``, ``im:version``, ``title``, ``content`` and, in most feeds,
``updated``. Some first pages start with an entry describing the app itself (no ``im:rating``):
it is skipped. A page with one entry may give ``entry`` as an object instead of a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from spiders.pages.common import MalformedBody, expect, label, load_json
from voxpop.core.timeutil import parse_datetime

MAX_PAGES = 10
_PAGE_IN_HREF = re.compile(r"/page=(\d+)/")


def feed_url(base_url: str, country: str, app_id: str, page: int) -> str:
    """The JSON feed URL of one page of one country storefront."""
    return f"{base_url}/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


@dataclass
class FeedPage:
    """The reviews of one feed page and the feed's own idea of its last page."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    last_page: int | None = None
    skipped_app_entries: int = 0


def parse_feed(body: bytes | str, country: str, app_id: str) -> FeedPage:
    """Parse one feed page into post dicts (fields of ``PostItem``).

    Raises:
        MalformedBody: the body is not JSON or has no ``feed`` object.
    """
    data = expect(load_json(body), dict, "feed body")
    feed = expect(data.get("feed"), dict, "feed")
    entries = feed.get("entry") or []
    if isinstance(entries, dict):
        entries = [entries]
    expect(entries, list, "feed.entry")
    page = FeedPage(last_page=_last_page(feed.get("link")))
    for entry in entries:
        if not isinstance(entry, dict):
            raise MalformedBody(f"feed.entry item: expected object, got {type(entry).__name__}")
        rating = label(entry.get("im:rating"))
        if rating is None:
            page.skipped_app_entries += 1
            continue
        review_id = label(entry.get("id"))
        author: dict[str, Any] = entry["author"] if isinstance(entry.get("author"), dict) else {}
        updated = label(entry.get("updated"))
        created: Any
        try:
            created = parse_datetime(updated) if updated else None
        except ValueError:
            created = updated  # let the pipeline drop it with a counted reason
        page.posts.append({
            "external_id": f"{app_id}:{review_id}" if review_id else "",
            "text": label(entry.get("content")) or "",
            "title": label(entry.get("title")),
            "author": label(author.get("name")),
            "rating": _rating(rating),
            "version": label(entry.get("im:version")),
            "created_at": created,
            "url": f"https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews",
            "found_by": f"appstore:{country}",
            "raw": entry,
        })
    return page


def _rating(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def _last_page(links: Any) -> int | None:
    if isinstance(links, dict):
        links = [links]
    if not isinstance(links, list):
        return None
    for link in links:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        if isinstance(attributes, dict) and attributes.get("rel") == "last":
            match = _PAGE_IN_HREF.search(str(attributes.get("href", "")))
            if match:
                return int(match.group(1))
    return None
