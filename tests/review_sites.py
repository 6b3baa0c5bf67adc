"""Builders of review-source bodies in the real services' shapes, with our own text (for spider tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

PHRASES = [
    "The new export button saves me so much time every week.",
    "Sync keeps failing when I switch between my phone and laptop.",
    "Please add a dark theme, the bright screen is hard on my eyes at night.",
    "Crashes whenever I attach a photo to a note, very frustrating.",
    "Great app overall, the search finds everything instantly.",
    "I wish I could share a notebook with my whole team at once.",
]
BASE_TIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_MINUS7 = timezone(timedelta(hours=-7))


def text_of(n: int) -> str:
    """Review text number ``n`` (distinct per n)."""
    return f"{PHRASES[n % len(PHRASES)]} (review {n})"


def _label(value: Any) -> dict[str, str]:
    return {"label": str(value)}


def appstore_entry(n: int, app_id: str, country: str = "us", when: datetime | None = None,
                   dated: bool = True) -> dict[str, Any]:
    """One feed entry in the App Store JSON shape."""
    when = when or BASE_TIME - timedelta(hours=n)
    entry: dict[str, Any] = {
        "author": {"uri": _label(f"https://itunes.apple.com/{country}/reviews/id{5000 + n}"),
                   "name": _label(f"reviewer{n}"), "label": ""},
        "im:version": _label(f"3.{n % 4}.0"),
        "im:rating": _label(1 + n % 5),
        "id": _label(9_000_000 - n),
        "title": _label(f"Title {n}"),
        "content": {"label": text_of(n), "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/{country}/review?id={app_id}"}},
        "im:voteSum": _label(0),
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": _label(0),
    }
    if dated:
        entry["updated"] = _label(when.astimezone(_MINUS7).isoformat())
    return entry


def appstore_page(entries: list[dict[str, Any]], app_id: str, country: str, page: int, last: int,
                  with_app_entry: bool = False) -> dict[str, Any]:
    """One page of the customer-reviews feed."""
    base = f"https://itunes.apple.com/{country}/rss/customerreviews"
    links = [{"attributes": {"rel": "alternate", "type": "text/html",
                             "href": "https://music.apple.com/WebObjects/MZStore.woa/wa/viewGrouping?cc=us&id=1"}},
             {"attributes": {"rel": "self", "href": f"{base}/id={app_id}/json"}}]
    links += [{"attributes": {"rel": rel, "href": f"{base}/page={n}/id={app_id}/sortby=mostrecent/xml"
                                                  f"?urlDesc=/customerreviews/id={app_id}/json"}}
              for rel, n in (("first", 1), ("last", last), ("previous", max(1, page - 1)),
                             ("next", min(last, page + 1)))]
    all_entries = list(entries)
    if with_app_entry:
        all_entries.insert(0, {"im:name": _label("Notely"), "id": _label(app_id),
                               "title": _label("Notely - Note App"), "im:artist": _label("Notely Inc.")})
    feed: dict[str, Any] = {
        "author": {"name": _label("iTunes Store"), "uri": _label("http://www.apple.com/itunes/")},
        "updated": _label("2026-11-20T05:00:00-07:00"), "rights": _label("Copyright 2026 Apple Inc."),
        "title": _label("iTunes Store: Customer Reviews"), "icon": _label("http://itunes.apple.com/favicon.ico"),
        "link": links, "id": _label(f"{base}/id={app_id}/sortby=mostrecent/json"),
    }
    if all_entries:
        feed["entry"] = all_entries
    return {"feed": feed}


# ---------------------------------------------------------------- steam

def steam_review(n: int, when: datetime | None = None, language: str = "english") -> dict[str, Any]:
    """One review object of the ``appreviews`` API."""
    when = when or BASE_TIME - timedelta(hours=n)
    stamp = int(when.timestamp())
    return {
        "recommendationid": str(170_000_000 - n),
        "author": {"steamid": str(76561198000000000 + n), "num_games_owned": 40 + n, "num_reviews": 3,
                   "playtime_forever": 600 + n, "playtime_last_two_weeks": 30, "playtime_at_review": 500,
                   "last_played": stamp + 3600},
        "language": language, "review": text_of(n), "timestamp_created": stamp, "timestamp_updated": stamp,
        "voted_up": n % 3 != 0, "votes_up": n % 7, "votes_funny": 0, "weighted_vote_score": "0.5123",
        "comment_count": 0, "steam_purchase": True, "received_for_free": False,
        "written_during_early_access": False, "primarily_steam_deck": False,
    }


def steam_page(reviews: list[dict[str, Any]], cursor: str, first: bool, total: int) -> dict[str, Any]:
    """One ``appreviews`` body; the first page carries the full ``query_summary``."""
    summary: dict[str, Any] = {"num_reviews": len(reviews)}
    if first:
        summary.update({"review_score": 8, "review_score_desc": "Very Positive", "total_positive": total - 10,
                        "total_negative": 10, "total_reviews": total})
    return {"success": 1, "query_summary": summary, "reviews": reviews, "cursor": cursor}


# ---------------------------------------------------------------- google play

def googleplay_review(n: int, when: datetime | None = None) -> list[Any]:
    """One review array of the ``UsvDTd`` RPC."""
    when = when or BASE_TIME - timedelta(hours=n)
    return [
        f"gp:AOqpTO{n:010d}", [f"Player {n}", [None, 2, None, [None, None, f"https://play-lh.example/a{n}"]]],
        1 + n % 5, None, text_of(n), [int(when.timestamp()), 123000000], n % 4,
        ([None, "Thanks for the feedback, a fix is on its way.", [int(when.timestamp()) + 7200, 0]]
         if n % 4 == 0 else None),
        None, None, f"5.{n % 3}.1", None, None, None, None, None, None, None, None, None,
    ]


def googleplay_body(reviews: list[list[Any]], next_token: str | None) -> str:
    """A batchexecute answer carrying one page of reviews and the next token."""
    import json

    payload = [reviews, None, [None, next_token] if next_token else None]
    envelope = [["wrb.fr", "UsvDTd", json.dumps(payload), None, None, None, "generic"],
                ["di", 87], ["af.httprm", 86, "-1234567890123456789", 12]]
    return ")]}'\n\n" + json.dumps(envelope)


# ---------------------------------------------------------------- JSON-LD

def jsonld_html(blocks: list[Any], title: str = "Notely for iPad") -> str:
    """A product page with the given JSON-LD blocks (objects are serialised; strings kept as is)."""
    import json

    scripts = "\n".join(
        f'<script type="application/ld+json">{b if isinstance(b, str) else json.dumps(b)}</script>' for b in blocks)
    return (f"<!doctype html><html><head><title>{title}</title>\n{scripts}\n</head>"
            f"<body><h1>{title}</h1><p>Reviews below.</p></body></html>")


# ---------------------------------------------------------------- discourse

def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def discourse_topic_ref(topic_id: int, bumped: datetime, posts: int = 2, pinned: bool = False) -> dict[str, Any]:
    """One ``topic_list.topics[]`` entry."""
    return {
        "id": topic_id, "title": f"Topic {topic_id}: sync trouble", "fancy_title": f"Topic {topic_id}: sync trouble",
        "slug": f"topic-{topic_id}-sync-trouble", "posts_count": posts, "reply_count": posts - 1,
        "highest_post_number": posts, "image_url": None, "created_at": _iso(bumped - timedelta(hours=posts)),
        "last_posted_at": _iso(bumped), "bumped": True, "bumped_at": _iso(bumped), "archetype": "regular",
        "unseen": False, "pinned": pinned, "unpinned": None, "visible": True, "closed": False, "archived": False,
        "bookmarked": None, "liked": None, "views": 10 * topic_id, "like_count": 1, "has_summary": False,
        "last_poster_username": "mira", "category_id": 4,
        "posters": [{"extras": "latest", "description": "Original Poster", "user_id": 1}],
    }


def discourse_list(topics: list[dict[str, Any]], more: str | None) -> dict[str, Any]:
    """A ``/latest.json`` body."""
    topic_list: dict[str, Any] = {"can_create_topic": False, "draft": None, "draft_key": "new_topic",
                                  "draft_sequence": None, "per_page": 30, "topics": topics}
    if more:
        topic_list["more_topics_url"] = more
    return {"users": [{"id": 1, "username": "mira", "name": "Mira", "avatar_template": "/a/{size}.png"}],
            "primary_groups": [], "topic_list": topic_list}


def discourse_post(post_id: int, topic_id: int, number: int, when: datetime, text: str,
                   post_type: int = 1) -> dict[str, Any]:
    """One ``post_stream.posts[]`` entry."""
    return {
        "id": post_id, "name": f"User {post_id % 7}", "username": f"user{post_id % 7}",
        "avatar_template": "/letter_avatar/u/{size}/1.png", "created_at": _iso(when),
        "cooked": f"<p>{text}</p>\n<p>Posted from the <strong>desktop</strong> app &amp; synced.</p>",
        "post_number": number, "post_type": post_type, "updated_at": _iso(when), "reply_count": 0,
        "reply_to_post_number": None if number == 1 else 1, "quote_count": 0, "incoming_link_count": 0,
        "reads": 3, "score": 1.2, "yours": False, "topic_id": topic_id, "topic_slug": f"topic-{topic_id}-sync-trouble",
        "display_username": f"User {post_id % 7}", "version": 1, "can_edit": False, "can_delete": False,
        "user_title": None, "actions_summary": [{"id": 2, "count": 1}], "moderator": False, "admin": False,
        "staff": False, "user_id": post_id % 7, "hidden": False, "trust_level": 1, "deleted_at": None,
        "user_deleted": False, "edit_reason": None, "wiki": False,
    }


def discourse_topic(topic_id: int, posts: list[dict[str, Any]], stream: list[int] | None = None) -> dict[str, Any]:
    """A ``/t/{id}.json`` body."""
    return {
        "post_stream": {"posts": posts, "stream": stream if stream is not None else [p["id"] for p in posts]},
        "timeline_lookup": [[1, 0]], "id": topic_id, "title": f"Topic {topic_id}: sync trouble",
        "fancy_title": f"Topic {topic_id}: sync trouble", "posts_count": len(stream or posts),
        "created_at": posts[0]["created_at"] if posts else None, "views": 12, "reply_count": len(posts) - 1,
        "like_count": 0, "last_posted_at": posts[-1]["created_at"] if posts else None, "visible": True,
        "closed": False, "archived": False, "archetype": "regular", "slug": f"topic-{topic_id}-sync-trouble",
        "category_id": 4, "word_count": 80, "deleted_at": None, "user_id": 1, "pinned": False,
        "details": {"can_edit": False, "participants": []},
    }
