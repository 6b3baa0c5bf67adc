"""Parse Stack Exchange API 2.3 answers (``/search/advanced`` with ``filter=withbody``)."""

from __future__ import annotations

import html
from typing import Any

from spiders.pages.common import expect, load_json
from spiders.pages.community import Page, iso_from_epoch
from voxpop.core.text import clean_text, html_to_text


def post_from_question(item: dict[str, Any], found_by: str | None) -> dict[str, Any] | None:
    """A post from one question item; None without an id or any text."""
    qid = item.get("question_id")
    if qid is None:
        return None
    title = clean_text(html.unescape(item.get("title") or "")) or None  # titles come HTML-escaped
    text = html_to_text(item.get("body")) or (title or "")
    if not text:
        return None
    owner = item.get("owner") or {}
    return {
        "external_id": str(qid),
        "title": title,
        "text": text,
        "url": item.get("link"),
        "author": html.unescape(owner["display_name"]) if owner.get("display_name") else None,
        "created_at": iso_from_epoch(item.get("creation_date")),
        "found_by": found_by,
        "raw": {"tags": item.get("tags") or [], "score": item.get("score"), "answer_count": item.get("answer_count"),
                "is_answered": item.get("is_answered"), "creation_date": item.get("creation_date")},
    }


def parse_search(body: bytes | str | Any, found_by: str | None = None) -> Page:
    """Questions of one page. ``info``: ``has_more``, ``quota_remaining``, ``quota_max``, ``backoff`` (seconds,
    absent unless the API asked for one), ``error_id`` / ``error_name`` / ``error_message`` on an error wrapper,
    and the ``oldest`` / ``newest`` ``creation_date``. ``next`` is ``"more"`` while ``has_more`` is true.
    """
    data = expect(load_json(body), dict, "API wrapper")
    info: dict[str, Any] = {key: data[key] for key in ("quota_remaining", "quota_max", "backoff", "error_id",
                                                        "error_name", "error_message") if key in data}
    info["has_more"] = bool(data.get("has_more"))
    if "error_id" in data:
        return Page(info=info)
    items = expect(data.get("items", []), list, "API wrapper.items")
    page = Page(next="more" if info["has_more"] else None)
    stamps = [int(i["creation_date"]) for i in items if isinstance(i, dict) and i.get("creation_date") is not None]
    for item in items:
        if isinstance(item, dict):
            post = post_from_question(item, found_by)
            if post is not None:
                page.posts.append(post)
    info.update(count=len(items), oldest=min(stamps, default=None), newest=max(stamps, default=None))
    page.info = info
    return page
