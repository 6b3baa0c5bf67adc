"""Parse Bluesky XRPC answers: ``createSession`` / ``refreshSession`` and ``app.bsky.feed.searchPosts``."""

from __future__ import annotations

from typing import Any

from spiders.pages.common import MalformedBody, expect, load_json
from spiders.pages.community import Page
from voxpop.core.text import clean_text

APP = "https://bsky.app"


def parse_session(body: bytes | str | Any) -> dict[str, str]:
    """``accessJwt``, ``refreshJwt``, ``did`` and ``handle`` of a session answer."""
    data = expect(load_json(body), dict, "session answer")
    if not data.get("accessJwt"):
        raise MalformedBody(f"no accessJwt in session answer (error: {data.get('error', 'none given')})")
    return {key: str(data.get(key) or "") for key in ("accessJwt", "refreshJwt", "did", "handle")}


def parse_error(body: bytes | str | Any) -> tuple[str, str]:
    """``(error, message)`` of an XRPC error answer; empty strings when the body is not one."""
    try:
        data = load_json(body)
    except MalformedBody:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("error") or ""), str(data.get("message") or "")


def post_url(uri: str, handle: str | None = None) -> str | None:
    """The bsky.app web address of a post from its AT URI (``at://{did}/app.bsky.feed.post/{rkey}``)."""
    if not uri.startswith("at://"):
        return None
    parts = uri[len("at://"):].split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    return f"{APP}/profile/{handle or parts[0]}/post/{parts[2]}"


def post_from_view(view: dict[str, Any], found_by: str | None) -> dict[str, Any] | None:
    """A post from one ``postView``; None without a URI or text."""
    uri = view.get("uri")
    record = view.get("record") or {}
    text = clean_text(record.get("text"))
    if not uri or not text:
        return None
    author = view.get("author") or {}
    langs = record.get("langs") or []
    return {
        "external_id": str(uri),
        "title": None,
        "text": text,
        "url": post_url(str(uri), author.get("handle") or author.get("did")),
        "author": author.get("handle") or author.get("did"),
        "created_at": record.get("createdAt") or view.get("indexedAt"),
        "language": (langs[0].split("-")[0] if langs and isinstance(langs[0], str) else None),
        "found_by": found_by,
        "raw": {"cid": view.get("cid"), "indexedAt": view.get("indexedAt"), "likeCount": view.get("likeCount"),
                "replyCount": view.get("replyCount"), "repostCount": view.get("repostCount"),
                "reply": bool(record.get("reply"))},
    }


def parse_search(body: bytes | str | Any, found_by: str | None = None) -> Page:
    """Posts of one ``searchPosts`` page; ``next`` is the ``cursor`` (absent on the last page).

    ``info``: ``count``, ``hitsTotal`` when given, and ``oldest`` / ``newest`` ``indexedAt``.
    """
    data = expect(load_json(body), dict, "searchPosts answer")
    views = expect(data.get("posts"), list, "searchPosts answer.posts")
    page = Page(next=str(data["cursor"]) if data.get("cursor") else None)
    stamps = [str(v["indexedAt"]) for v in views if isinstance(v, dict) and v.get("indexedAt")]
    for view in views:
        if isinstance(view, dict):
            post = post_from_view(view, found_by)
            if post is not None:
                page.posts.append(post)
    page.info = {"count": len(views), "hitsTotal": data.get("hitsTotal"),
                 "oldest": min(stamps, default=None), "newest": max(stamps, default=None)}
    return page
