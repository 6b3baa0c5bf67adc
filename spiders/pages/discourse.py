"""Discourse forums: topic lists (``/latest.json``, ``/c/{category}.json``), search, and topic posts.

- Topic lists: ``topic_list.topics[]`` (``id``, ``slug``, ``title``, ``bumped_at``, ``pinned``,
  ``posts_count``) and ``topic_list.more_topics_url`` for the next page (absent on the last).
- Search (``/search.json?q=``): ``topics[]`` and ``posts[]`` (with ``topic_id``) plus
  ``grouped_search_result.more_full_page_results``; old forums answer a list of result groups.
- A topic (``/t/{id}.json``): ``post_stream.posts[]`` (the first ~20, ``cooked`` HTML) and
  ``post_stream.stream`` (every post id); the rest come from ``/t/{id}/posts.json?post_ids[]=...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from spiders.pages.common import MalformedBody, expect, load_json
from voxpop.core.timeutil import parse_datetime

REGULAR_POST = 1
POSTS_CHUNK = 20


@dataclass
class TopicRef:
    """A topic named by a list or a search, with what decides whether to fetch it."""

    id: int
    slug: str = ""
    title: str = ""
    bumped_at: Any = None
    pinned: bool = False


@dataclass
class TopicList:
    """One page of a topic list or search answer."""

    topics: list[TopicRef] = field(default_factory=list)
    more_url: str | None = None


@dataclass
class TopicPosts:
    """The posts of one topic answer and the ids of posts still to fetch."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    missing_ids: list[int] = field(default_factory=list)
    title: str = ""
    slug: str = ""


def forum_key(base_url: str) -> str:
    """A short, stable name of a forum (host and path, no port) used to namespace post ids."""
    parts = urlsplit(base_url)
    return ((parts.hostname or "") + parts.path.rstrip("/")).lower()


def absolute(base_url: str, target: str) -> str:
    """Resolve a forum-relative URL (``more_topics_url``) against the forum root, as JSON."""
    if "://" in target:
        url = target
    else:
        root = urlsplit(base_url)
        prefix = root.path.rstrip("/")
        path = target if not prefix or target.startswith(prefix + "/") else prefix + target
        url = urlunsplit((root.scheme, root.netloc, "", "", "")) + path
    parts = urlsplit(url)
    path = parts.path
    if not path.endswith(".json"):
        path = path.rstrip("/") + ".json"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _parse_date(value: Any) -> Any:
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def parse_topic_list(body: bytes | str) -> TopicList:
    """Parse ``/latest.json`` or ``/c/{category}.json``.

    Raises:
        MalformedBody: not JSON or no ``topic_list.topics`` list.
    """
    data = expect(load_json(body), dict, "topic list body")
    topic_list = expect(data.get("topic_list"), dict, "topic_list")
    topics = expect(topic_list.get("topics", []), list, "topic_list.topics")
    result = TopicList(more_url=topic_list.get("more_topics_url") or None)
    for topic in topics:
        if isinstance(topic, dict) and isinstance(topic.get("id"), int):
            result.topics.append(TopicRef(
                id=topic["id"], slug=str(topic.get("slug") or ""), title=str(topic.get("title") or ""),
                bumped_at=_parse_date(topic.get("bumped_at") or topic.get("last_posted_at")),
                pinned=bool(topic.get("pinned") or topic.get("pinned_globally")),
            ))
    return result


def parse_search(body: bytes | str) -> tuple[TopicList, bool]:
    """Parse ``/search.json``: the topics it found and whether more result pages exist.

    Raises:
        MalformedBody: neither the current (object) nor the old (list of groups) answer shape.
    """
    data = load_json(body)
    found: dict[int, TopicRef] = {}
    more = False
    if isinstance(data, dict):
        for topic in data.get("topics") or []:
            if isinstance(topic, dict) and isinstance(topic.get("id"), int):
                found[topic["id"]] = TopicRef(id=topic["id"], slug=str(topic.get("slug") or ""),
                                              title=str(topic.get("title") or ""),
                                              bumped_at=_parse_date(topic.get("bumped_at")))
        for post in data.get("posts") or []:
            if isinstance(post, dict) and isinstance(post.get("topic_id"), int):
                found.setdefault(post["topic_id"], TopicRef(id=post["topic_id"]))
        grouped = data.get("grouped_search_result")
        more = bool(isinstance(grouped, dict) and grouped.get("more_full_page_results"))
    elif isinstance(data, list):
        for group in data:
            if isinstance(group, dict) and group.get("type") == "topic":
                more = more or bool(group.get("more"))
                for hit in group.get("results") or []:
                    if isinstance(hit, dict) and isinstance(hit.get("id"), int):
                        found[hit["id"]] = TopicRef(id=hit["id"], title=str(hit.get("title") or ""))
    else:
        raise MalformedBody(f"search answer: expected object or list, got {type(data).__name__}")
    return TopicList(topics=list(found.values())), more


def _post(post: dict[str, Any], base_url: str, topic_id: int, slug: str, title: str,
          found_by: str) -> dict[str, Any]:
    number = post.get("post_number")
    return {
        "external_id": f"{forum_key(base_url)}:{post.get('id')}",
        "text": post.get("cooked") if isinstance(post.get("cooked"), str) else "",
        "text_format": "html",
        "title": title if number == 1 and title else None,
        "author": post.get("username") or post.get("name"),
        "created_at": _parse_date(post.get("created_at")),
        "url": f"{base_url}/t/{slug or post.get('topic_slug') or 'topic'}/{topic_id}/{number or ''}".rstrip("/"),
        "found_by": found_by,
        "raw": {k: v for k, v in post.items() if k not in ("actions_summary", "raw")},
    }


def _keep(post: Any) -> bool:
    return (isinstance(post, dict) and post.get("id") is not None
            and post.get("post_type", REGULAR_POST) == REGULAR_POST
            and not post.get("hidden") and not post.get("deleted_at"))


def parse_topic(body: bytes | str, base_url: str, found_by: str = "discourse") -> TopicPosts:
    """Parse ``/t/{id}.json``: its regular posts and the ids not loaded yet.

    Raises:
        MalformedBody: not JSON or no ``post_stream.posts`` list.
    """
    data = expect(load_json(body), dict, "topic body")
    stream = expect(data.get("post_stream"), dict, "post_stream")
    posts = expect(stream.get("posts"), list, "post_stream.posts")
    topic_id = data.get("id")
    slug, title = str(data.get("slug") or ""), str(data.get("title") or "")
    result = TopicPosts(title=title, slug=slug)
    loaded = set()
    for post in posts:
        if isinstance(post, dict):
            loaded.add(post.get("id"))
        if _keep(post):
            result.posts.append(_post(post, base_url, int(topic_id or post.get("topic_id") or 0), slug, title,
                                      found_by))
    ids = stream.get("stream") if isinstance(stream.get("stream"), list) else []
    result.missing_ids = [i for i in ids if isinstance(i, int) and i not in loaded]
    return result


def parse_topic_posts(body: bytes | str, base_url: str, topic_id: int, slug: str, title: str,
                      found_by: str = "discourse") -> list[dict[str, Any]]:
    """Parse ``/t/{id}/posts.json?post_ids[]=...`` (more posts of a long topic).

    Raises:
        MalformedBody: not JSON or no ``post_stream.posts`` list.
    """
    data = expect(load_json(body), dict, "topic posts body")
    stream = expect(data.get("post_stream"), dict, "post_stream")
    posts = expect(stream.get("posts"), list, "post_stream.posts")
    return [_post(p, base_url, topic_id, slug, title, found_by) for p in posts if _keep(p)]


def posts_url(base_url: str, topic_id: int, post_ids: list[int]) -> str:
    """The URL loading more posts of a topic by id."""
    return f"{base_url}/t/{topic_id}/posts.json?" + urlencode([("post_ids[]", i) for i in post_ids])
