"""Parse Hacker News Algolia ``search_by_date`` answers: story and comment hits."""

from __future__ import annotations

from typing import Any

from spiders.pages.common import expect, load_json
from spiders.pages.community import Page, iso_from_epoch
from voxpop.core.text import clean_text, html_to_text

ITEM_URL = "https://news.ycombinator.com/item?id={}"


def post_from_hit(hit: dict[str, Any], found_by: str | None) -> dict[str, Any] | None:
    """A post from one hit (story or comment); None for a hit without text or id."""
    object_id = hit.get("objectID")
    if not object_id:
        return None
    tags = hit.get("_tags") or []
    is_comment = "comment" in tags or (hit.get("comment_text") and not hit.get("title"))
    created = hit.get("created_at_i")
    created_at = iso_from_epoch(created) if created is not None else hit.get("created_at")
    if is_comment:
        text = html_to_text(hit.get("comment_text"))
        title = None
        raw = {"kind": "comment", "story_id": hit.get("story_id"), "parent_id": hit.get("parent_id"),
               "story_title": hit.get("story_title"), "created_at_i": created}
    else:
        title = clean_text(hit.get("title")) or None
        text = html_to_text(hit.get("story_text")) or (title or "")
        raw = {"kind": "story", "points": hit.get("points"), "num_comments": hit.get("num_comments"),
               "link": hit.get("url"), "created_at_i": created}
    if not text:
        return None
    return {
        "external_id": str(object_id),
        "title": title,
        "text": text,
        "url": ITEM_URL.format(object_id),
        "author": hit.get("author"),
        "created_at": created_at,
        "found_by": found_by,
        "raw": raw,
    }


def parse_search(body: bytes | str | Any, found_by: str | None = None) -> Page:
    """Posts of one search page.

    ``next`` is the following page number as text while ``page + 1 < nbPages``. ``info`` carries
    ``nbHits``, ``nbPages``, ``page``, ``hitsPerPage`` and the ``oldest`` / ``newest`` ``created_at_i``
    on the page, which the spider uses to move its time window.
    """
    data = expect(load_json(body), dict, "search answer")
    hits = expect(data.get("hits"), list, "search answer.hits")
    page_no = int(data.get("page") or 0)
    pages = int(data.get("nbPages") or 0)
    page = Page(next=str(page_no + 1) if page_no + 1 < pages else None)
    stamps = [int(h["created_at_i"]) for h in hits if isinstance(h, dict) and h.get("created_at_i") is not None]
    for hit in hits:
        if isinstance(hit, dict):
            post = post_from_hit(hit, found_by)
            if post is not None:
                page.posts.append(post)
    page.info = {
        "nbHits": int(data.get("nbHits") or 0), "nbPages": pages, "page": page_no,
        "hitsPerPage": int(data.get("hitsPerPage") or len(hits)), "count": len(hits),
        "oldest": min(stamps, default=None), "newest": max(stamps, default=None),
    }
    return page
