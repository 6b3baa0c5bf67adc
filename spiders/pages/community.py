"""Helpers shared by the community page parsers (reddit, hackernews, stackexchange, github, mastodon, bluesky).

Parsers turn one response body into plain ``dict`` posts with the fields of ``store.repo.PostRecord``
(``external_id``, ``text``, ``title``, ``url``, ``author``, ``created_at``, ``language``, ``found_by``,
``raw``) plus ``products`` (extra product slugs named in the text, filled by the spider).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Page:
    """What one response yields: posts, the token for the next page, and figures the spider records."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    next: str | None = None  # cursor, ``after``, page number or URL, per source
    info: dict[str, Any] = field(default_factory=dict)  # reported_total, quota, backoff, ...


def iso_from_epoch(value: Any) -> str | None:
    """An ISO 8601 UTC string from epoch seconds (int, float or numeric string); None when absent."""
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


def compile_keywords(keywords: Mapping[str, Iterable[str]]) -> dict[str, re.Pattern[str]]:
    """One case-insensitive whole-word pattern per product slug from its names and keywords."""
    patterns: dict[str, re.Pattern[str]] = {}
    for slug, words in keywords.items():
        alternatives = sorted({w.strip() for w in words if w and w.strip()}, key=len, reverse=True)
        if alternatives:
            joined = "|".join(re.escape(w) for w in alternatives)
            patterns[slug] = re.compile(rf"(?<![\w-])(?:{joined})(?![\w-])", re.IGNORECASE)
    return patterns


def parse_keywords(spec: str | None) -> dict[str, list[str]]:
    """Read the ``also`` spider argument: ``slug1,slug2`` or ``slug1:Name|alias,slug2:Other``.

    A slug with no words after it is matched by the slug itself (dashes read as spaces too).
    """
    result: dict[str, list[str]] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        slug, _, words = part.partition(":")
        slug = slug.strip()
        names = [w.strip() for w in words.split("|") if w.strip()] if words else []
        if not names:
            names = sorted({slug, slug.replace("-", " ")})
        result.setdefault(slug, []).extend(names)
    return result


def products_named(text: str, patterns: Mapping[str, re.Pattern[str]], exclude: str | None = None) -> list[str]:
    """Slugs whose pattern occurs in ``text`` (the crawl's own product excluded), sorted."""
    return sorted(slug for slug, pattern in patterns.items() if slug != exclude and pattern.search(text or ""))


_LINK_PART = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')
_REL = re.compile(r'rel\s*=\s*"?([^";]+)"?')


def parse_link_header(value: str | bytes | None) -> dict[str, str]:
    """The URLs of an RFC 8288 ``Link`` header by relation (``next``, ``prev``, ``last``, ...)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    links: dict[str, str] = {}
    for match in _LINK_PART.finditer(value or ""):
        rel = _REL.search(match.group(2) or "")
        if rel:
            for name in rel.group(1).split():
                links.setdefault(name, match.group(1))
    return links
