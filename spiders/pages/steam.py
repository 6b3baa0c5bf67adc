"""Steam user reviews (``/appreviews/{app_id}?json=1&filter=recent&language=all&num_per_page=100&cursor=...``).

The body is ``{success, query_summary, reviews[], cursor}``. ``query_summary.total_reviews`` is given
on the first page (``cursor=*``). Reviews come newest first; ``voted_up`` is the only rating, so a
recommendation is 5 and a thumbs-down is 1. The cursor must be URL-encoded in the next request and
can repeat when the list is exhausted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from spiders.pages.common import MalformedBody, expect, load_json
from voxpop.core.timeutil import parse_datetime

PAGE_SIZE = 100


def reviews_url(base_url: str, app_id: str, cursor: str = "*") -> str:
    """The URL of one page of an app's reviews (cursor URL-encoded)."""
    query = urlencode({"json": 1, "filter": "recent", "language": "all", "num_per_page": PAGE_SIZE,
                       "cursor": cursor}, quote_via=quote, safe="")
    return f"{base_url}/appreviews/{app_id}?{query}"


@dataclass
class ReviewsPage:
    """The reviews of one page, the next cursor and the total Steam reports."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    total: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _language(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    return "en" if name.lower() == "english" else "other"


def parse_reviews(body: bytes | str, app_id: str) -> ReviewsPage:
    """Parse one page of the ``appreviews`` API.

    Raises:
        MalformedBody: not JSON, ``success`` not 1, or ``reviews`` not a list.
    """
    data = expect(load_json(body), dict, "appreviews body")
    if data.get("success") != 1:
        raise MalformedBody(f"appreviews success={data.get('success')!r}")
    reviews = expect(data.get("reviews", []), list, "reviews")
    summary: dict[str, Any] = data["query_summary"] if isinstance(data.get("query_summary"), dict) else {}
    total = summary.get("total_reviews")
    page = ReviewsPage(cursor=data.get("cursor") if isinstance(data.get("cursor"), str) else None,
                       total=int(total) if isinstance(total, int) else None, summary=summary)
    for review in reviews:
        if not isinstance(review, dict):
            raise MalformedBody(f"reviews item: expected object, got {type(review).__name__}")
        author: dict[str, Any] = review["author"] if isinstance(review.get("author"), dict) else {}
        steamid = author.get("steamid")
        voted_up = review.get("voted_up")
        try:
            created = parse_datetime(review.get("timestamp_created"))
        except ValueError:
            created = None
        page.posts.append({
            "external_id": str(review.get("recommendationid") or ""),
            "text": review.get("review") if isinstance(review.get("review"), str) else "",
            "author": str(steamid) if steamid else None,
            "rating": None if voted_up is None else (5.0 if voted_up else 1.0),
            "created_at": created,
            "language": _language(review.get("language")),
            "url": f"https://steamcommunity.com/profiles/{steamid}/recommended/{app_id}/" if steamid else None,
            "found_by": "steam",
            "raw": review,
        })
    return page
