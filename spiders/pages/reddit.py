"""Parse Reddit OAuth API answers (``raw_json=1``): token, Listing of t3 posts, comment trees of t1 comments."""

from __future__ import annotations

from typing import Any

from spiders.pages.common import MalformedBody, expect, load_json
from spiders.pages.community import Page, iso_from_epoch
from voxpop.core.text import clean_text

WEB = "https://www.reddit.com"
_GONE = {"[deleted]", "[removed]", ""}


def parse_token(body: bytes | str | Any) -> tuple[str, float]:
    """The bearer token and its lifetime in seconds from ``/api/v1/access_token``.

    Raises:
        MalformedBody: no token in the answer (Reddit answers ``{"error": ...}`` for bad credentials).
    """
    data = expect(load_json(body), dict, "token answer")
    token = data.get("access_token")
    if not token:
        raise MalformedBody(f"no access_token in token answer (error: {data.get('error', 'none given')})")
    return str(token), float(data.get("expires_in") or 3600)


def _listing_children(listing: Any, what: str) -> tuple[list[Any], dict[str, Any]]:
    listing = expect(listing, dict, what)
    if listing.get("kind") != "Listing":
        raise MalformedBody(f"{what}: expected kind Listing, got {listing.get('kind')!r}")
    data = expect(listing.get("data"), dict, f"{what}.data")
    return expect(data.get("children", []), list, f"{what}.data.children"), data


def post_from_t3(data: dict[str, Any], found_by: str | None) -> dict[str, Any] | None:
    """A post from a t3 (submission) ``data`` object; None for a deleted post without text."""
    title = clean_text(data.get("title"))
    body = clean_text(data.get("selftext"))
    if body in _GONE:
        body = ""
    if not title and not body:
        return None
    return {
        "external_id": str(data.get("name") or f"t3_{data['id']}"),
        "title": title or None,
        "text": body or title,
        "url": WEB + data["permalink"] if data.get("permalink") else data.get("url"),
        "author": None if data.get("author") in (None, "[deleted]") else data.get("author"),
        "created_at": iso_from_epoch(data.get("created_utc")),
        "found_by": found_by,
        "raw": {"kind": "t3", "subreddit": data.get("subreddit"), "score": data.get("score"),
                "num_comments": data.get("num_comments"), "link": None if data.get("is_self") else data.get("url")},
    }


def parse_listing(body: bytes | str | Any, found_by: str | None = None) -> Page:
    """Posts of one ``/r/{sub}/new`` or ``/r/{sub}/search`` page; ``next`` is the ``after`` token.

    ``info["oldest"]`` is the smallest ``created_utc`` on the page (the spider stops paging once it
    passes its high-water mark), ``info["newest"]`` the largest.
    """
    children, data = _listing_children(load_json(body), "listing")
    page = Page(next=data.get("after") or None)
    stamps: list[float] = []
    for child in children:
        if not isinstance(child, dict) or child.get("kind") != "t3" or not isinstance(child.get("data"), dict):
            continue
        inner = child["data"]
        if inner.get("created_utc") is not None:
            stamps.append(float(inner["created_utc"]))
        post = post_from_t3(inner, found_by)
        if post is not None:
            post["raw"]["created_utc"] = inner.get("created_utc")
            page.posts.append(post)
    page.info = {"count": len(children), "oldest": min(stamps, default=None), "newest": max(stamps, default=None)}
    return page


def _comment_url(data: dict[str, Any]) -> str | None:
    if data.get("permalink"):
        return WEB + str(data["permalink"])
    link = str(data.get("link_id") or "").removeprefix("t3_")
    return f"{WEB}/comments/{link}/_/{data.get('id')}/" if link and data.get("id") else None


def parse_comments(body: bytes | str | Any, found_by: str | None = None, limit: int | None = None) -> Page:
    """Flatten the t1 comment tree of ``/comments/{id}`` (the answer is ``[post Listing, comment Listing]``).

    ``more`` stubs are not expanded here: ``info["more"]`` counts the comments they stand for and
    ``info["more_ids"]`` lists their ids (for ``/api/morechildren``). Deleted and removed comments are
    skipped (``info["skipped"]``). At most ``limit`` comments are returned.
    """
    data = expect(load_json(body), list, "comments answer")
    if len(data) < 2:
        raise MalformedBody("comments answer: expected [post listing, comment listing]")
    post_children, _ = _listing_children(data[0], "comments answer[0]")
    link_title = None
    if post_children and isinstance(post_children[0], dict):
        link_title = (post_children[0].get("data") or {}).get("title")
    roots, _ = _listing_children(data[1], "comments answer[1]")
    return _flatten(roots, found_by, limit, link_title)


def parse_more_children(body: bytes | str | Any, found_by: str | None = None, limit: int | None = None) -> Page:
    """Comments of one ``/api/morechildren?api_type=json`` answer (``json.data.things``, a flat list).

    ``info`` as for :func:`parse_comments`: the ``more`` stubs among the things are counted, not expanded.
    """
    data = expect(load_json(body), dict, "morechildren answer")
    inner = expect(data.get("json"), dict, "morechildren answer.json")
    if inner.get("errors"):
        raise MalformedBody(f"morechildren errors: {str(inner['errors'])[:200]}")
    things = expect((inner.get("data") or {}).get("things", []), list, "morechildren answer.json.data.things")
    return _flatten(things, found_by, limit, None)


def _flatten(roots: list[Any], found_by: str | None, limit: int | None, link_title: str | None) -> Page:
    page = Page()
    more = skipped = 0
    more_ids: list[str] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        kind, inner = node.get("kind"), node.get("data") or {}
        if kind == "more":
            children = [str(c) for c in inner.get("children") or []]
            more += int(inner.get("count") or len(children))
            more_ids.extend(children)  # empty for a "continue this thread" stub
            continue
        if kind != "t1":
            continue
        replies = inner.get("replies")
        if isinstance(replies, dict):
            stack.extend(reversed(((replies.get("data") or {}).get("children")) or []))
        text = clean_text(inner.get("body"))
        if text in _GONE:
            skipped += 1
            continue
        if limit is not None and len(page.posts) >= limit:
            skipped += 1
            continue
        page.posts.append({
            "external_id": str(inner.get("name") or f"t1_{inner['id']}"),
            "title": None,
            "text": text,
            "url": _comment_url(inner),
            "author": None if inner.get("author") in (None, "[deleted]") else inner.get("author"),
            "created_at": iso_from_epoch(inner.get("created_utc")),
            "found_by": found_by,
            "raw": {"kind": "t1", "subreddit": inner.get("subreddit"), "score": inner.get("score"),
                    "link_id": inner.get("link_id"), "parent_id": inner.get("parent_id"), "link_title": link_title},
        })
    page.info = {"more": more, "more_ids": more_ids, "skipped": skipped}
    return page
