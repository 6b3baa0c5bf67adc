"""schema.org ``Review`` objects in a page's ``<script type="application/ld+json">`` blocks.

Handles what real pages do: one block or several, a top-level object, a list, or an ``@graph``;
``@type`` as a string or a list; ``review`` as one object or a list, nested in a Product, Recipe,
SoftwareApplication or anything else; ``reviewRating.ratingValue`` as a number or string, scaled to
1..5 by ``bestRating`` (default 5); ``author`` as a string, an object or a list; ``datePublished`` as
a date or a date-time. ``aggregateRating`` is returned too (its count is the page's reported total).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

from spiders.pages.common import MalformedBody
from voxpop.core.timeutil import parse_datetime

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SCRIPT = re.compile(
    r"<script\b[^>]*\btype\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>(.*?)</script\s*>", re.I | re.S)


@dataclass
class JsonLdPage:
    """The reviews of one page, its aggregate rating and how many blocks could not be read."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    aggregate: dict[str, Any] | None = None
    blocks: int = 0
    bad_blocks: int = 0


def _types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {str(v).rsplit("/", 1)[-1] for v in values if v}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def scale_rating(rating: Any) -> float | None:
    """A ``Rating`` (or bare value) on the 1..5 scale, using ``bestRating`` (default 5)."""
    if isinstance(rating, dict):
        value = _number(rating.get("ratingValue"))
        best = _number(rating.get("bestRating")) or 5.0
    else:
        value, best = _number(rating), 5.0
    if value is None or best <= 0:
        return None
    scaled = value / best * 5.0
    return round(min(5.0, max(1.0, scaled)), 3)


def _name(value: Any) -> str | None:
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    if isinstance(value, dict):
        name = value.get("name") or value.get("alternateName")
        return str(name) if name else None
    if isinstance(value, str):
        return value or None
    return None


def _walk(node: Any, reviews: list[tuple[dict[str, Any], dict[str, Any] | None]],
          aggregates: list[dict[str, Any]], parent: dict[str, Any] | None = None) -> None:
    if isinstance(node, list):
        for child in node:
            _walk(child, reviews, aggregates, parent)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    if "Review" in types or "UserReview" in types or "CriticReview" in types:
        reviews.append((node, parent))
    elif "AggregateRating" in types and parent is None:
        aggregates.append(node)
    if isinstance(node.get("aggregateRating"), dict):
        aggregates.append(node["aggregateRating"])
    for key, child in node.items():
        if key in ("aggregateRating", "reviewRating"):
            continue
        if isinstance(child, dict | list):
            _walk(child, reviews, aggregates, node if types else parent)


def review_id(page_url: str, review: dict[str, Any]) -> str:
    """The review's own ``@id``/``url``, else a digest of page, author, date and text."""
    own = review.get("@id") or review.get("url")
    if isinstance(own, str) and own:
        return own[:300]
    parts = [page_url, _name(review.get("author")) or "", str(review.get("datePublished") or ""),
             str(review.get("reviewBody") or review.get("description") or "")[:500]]
    return "sha1:" + hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def parse_page(body: bytes | str, page_url: str) -> JsonLdPage:
    """Find every Review in the page's JSON-LD blocks.

    Raises:
        MalformedBody: the page has JSON-LD blocks and none of them is valid JSON.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    page = JsonLdPage()
    reviews: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    aggregates: list[dict[str, Any]] = []
    for match in _SCRIPT.finditer(text):
        page.blocks += 1
        raw = match.group(1).strip()
        if raw.startswith("<!--"):
            raw = raw[4:].rsplit("-->", 1)[0]
        try:
            data = json.loads(raw, strict=False)
        except json.JSONDecodeError:
            try:
                data = json.loads(html.unescape(raw), strict=False)
            except json.JSONDecodeError:
                page.bad_blocks += 1
                continue
        _walk(data, reviews, aggregates)
    if page.blocks and page.bad_blocks == page.blocks:
        raise MalformedBody(f"none of the {page.blocks} JSON-LD block(s) is valid JSON")
    if aggregates:
        agg = aggregates[0]
        page.aggregate = {k: agg.get(k) for k in ("ratingValue", "bestRating", "worstRating", "ratingCount",
                                                   "reviewCount") if agg.get(k) is not None}
    for review, parent in reviews:
        body_text = review.get("reviewBody") or review.get("description") or ""
        date = review.get("datePublished") or review.get("dateCreated")
        created: Any
        try:
            created = parse_datetime(date) if date else None
        except ValueError:
            created = str(date)
        item_reviewed = review.get("itemReviewed") if isinstance(review.get("itemReviewed"), dict) else parent
        page.posts.append({
            "external_id": review_id(page_url, review),
            "text": body_text if isinstance(body_text, str) else "",
            "text_format": "html" if isinstance(body_text, str) and _TAG.search(body_text) else "text",
            "title": review.get("name") if isinstance(review.get("name"), str) else None,
            "author": _name(review.get("author")),
            "rating": scale_rating(review.get("reviewRating")),
            "created_at": created,
            "url": page_url,
            "found_by": _name(item_reviewed) if item_reviewed else None,
            "raw": review,
        })
    return page


def reported_count(aggregate: dict[str, Any] | None) -> int | None:
    """The number of reviews (else ratings) an ``aggregateRating`` states."""
    if not aggregate:
        return None
    for key in ("reviewCount", "ratingCount"):
        value = _number(aggregate.get(key))
        if value is not None:
            return int(value)
    return None
