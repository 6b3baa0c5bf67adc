"""Parse Mastodon ``/api/v1/timelines/tag/{tag}`` answers: a JSON array of statuses, ``content`` in HTML."""

from __future__ import annotations

from typing import Any

from spiders.pages.common import expect, load_json
from spiders.pages.community import Page
from voxpop.core.text import clean_text, html_to_text


def post_from_status(status: dict[str, Any], found_by: str | None) -> dict[str, Any] | None:
    """A post from one status; None for a reblog (boost) or a status without text."""
    if status.get("reblog") is not None or status.get("id") is None:
        return None
    text = html_to_text(status.get("content"))
    if not text:
        return None
    account = status.get("account") or {}
    return {
        # ``uri`` is the status's global ActivityPub id; ``id`` is only unique on one instance.
        "external_id": str(status.get("uri") or status.get("url") or status["id"]),
        "title": clean_text(status.get("spoiler_text")) or None,
        "text": text,
        "url": status.get("url") or status.get("uri"),
        "author": account.get("acct") or account.get("username"),
        "created_at": status.get("created_at"),
        "language": status.get("language") or None,
        "found_by": found_by,
        "raw": {"id": str(status["id"]), "tags": [t.get("name") for t in status.get("tags") or []
                                                  if isinstance(t, dict)],
                "replies_count": status.get("replies_count"), "reblogs_count": status.get("reblogs_count"),
                "favourites_count": status.get("favourites_count"), "edited_at": status.get("edited_at")},
    }


def parse_timeline(body: bytes | str | Any, found_by: str | None = None) -> Page:
    """Statuses of one timeline page, reblogs skipped.

    ``next`` is the ``max_id`` for the following page (the smallest id seen) or None on an empty page;
    the spider prefers the ``Link`` header when present. ``info``: ``count``, ``reblogs``, ``newest_id``.
    """
    data = expect(load_json(body), list, "timeline answer")
    page = Page()
    ids: list[int] = []
    reblogs = 0
    for status in data:
        if not isinstance(status, dict):
            continue
        if str(status.get("id", "")).isdigit():
            ids.append(int(status["id"]))
        if status.get("reblog") is not None:
            reblogs += 1
            continue
        post = post_from_status(status, found_by)
        if post is not None:
            page.posts.append(post)
    page.next = str(min(ids)) if ids else None
    page.info = {"count": len(data), "reblogs": reblogs, "newest_id": str(max(ids)) if ids else None}
    return page
