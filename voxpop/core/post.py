"""One post from the parser to the store: the record, and the one validator every way in uses.

The crawl (``spiders/pipelines.py``), ``voxpop import`` (``store/io.py``) and any future source build
a :class:`PostRecord` only through :func:`validate_post`, so the limits are the same everywhere:
a rating on the 1..5 scale, URLs only ``http``/``https`` (anything else is left out, never passed on),
the text cut at :data:`MAX_TEXT_CHARS`, dates timezone-aware UTC, control and bidi characters
stripped. Part of ``voxpop.core``: imports nothing of ours outside it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voxpop.core.language import detect_language
from voxpop.core.text import clean_text, clean_url, html_to_text
from voxpop.core.timeutil import parse_datetime

RATING_MIN, RATING_MAX = 1.0, 5.0
URL_SCHEMES = ("http://", "https://")
MAX_TEXT_CHARS = 20_000
MAX_FIELD_CHARS = {"external_id": 300, "author": 300, "version": 100, "found_by": 300, "language": 10,
                   "title": 1000, "url": 2000}
TEXT_FORMATS = ("text", "html")


class InvalidPost(ValueError):
    """A post that cannot be stored, with a short machine-readable ``reason`` (``missing_text``, ``bad_date``, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A validated post ready to store (build it with :func:`validate_post`).

    ``products`` are other products' slugs the post names (community posts); the writer turns them
    into ``extra_product_ids``.
    """

    source: str
    external_id: str
    text: str
    url: str | None = None
    author: str | None = None
    title: str | None = None
    rating: float | None = None
    created_at: datetime | None = None
    version: str | None = None
    language: str | None = None
    found_by: str | None = None
    raw: dict[str, Any] | None = None
    products: tuple[str, ...] = ()
    extra_product_ids: tuple[int, ...] = ()
    segments: dict[str, str] | None = None  # extra columns of an imported file (segment fields)

    def content_hash(self) -> str:
        """A digest of the fields whose change means the post was edited."""
        parts = [self.title or "", self.text, "" if self.rating is None else f"{self.rating:g}", self.version or ""]
        if self.segments:  # only then: posts without segments keep the digest they always had
            parts.append(json.dumps(self.segments, sort_keys=True, ensure_ascii=False))
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def json_safe(value: Any) -> bool:
    """Whether ``value`` serialises to JSON."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _optional_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidPost(f"bad_{name}", f"{name} is {type(value).__name__}, expected text")
    text = clean_text(value)
    if name != "title":
        text = text.replace("\n", " ")
    limit = MAX_FIELD_CHARS.get(name)
    if limit and len(text) > limit:
        text = text[:limit]
    return text or None


def _rating(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidPost("bad_rating", f"bad rating {value!r} (expected a number {RATING_MIN:g}-{RATING_MAX:g})") \
                from None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) \
            or not RATING_MIN <= float(value) <= RATING_MAX:
        raise InvalidPost("bad_rating", f"bad rating {value!r} (expected a number {RATING_MIN:g}-{RATING_MAX:g})")
    return float(value)


def safe_url(value: Any) -> str | None:
    """``value`` as an http(s) URL once invisible and bidi controls are stripped, else None (never passed on)."""
    return clean_url(value, MAX_FIELD_CHARS["url"])


def validate_post(*, source: str, external_id: Any, text: Any, text_format: str = "text", url: Any = None,
                  author: Any = None, title: Any = None, rating: Any = None, created_at: Any = None,
                  version: Any = None, language: Any = None, found_by: Any = None, raw: Any = None,
                  products: Sequence[str] | None = None, check_raw: bool = True) -> PostRecord:
    """Validate and normalise one post; raise :class:`InvalidPost` with a reason when it is unusable.

    ``check_raw=False`` skips serialising ``raw`` to prove it is JSON (the crawl's writer finds such
    posts itself when a batch fails, which keeps the common path fast).
    """
    if not source:
        raise InvalidPost("missing_source", "no source name")
    if isinstance(external_id, int | float) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        raise InvalidPost("missing_external_id", f"missing id ({external_id!r})")
    external_id = external_id.strip()[: MAX_FIELD_CHARS["external_id"]]
    if text_format not in TEXT_FORMATS:
        raise InvalidPost("bad_text_format", f"text_format {text_format!r}")
    if text is None:
        raise InvalidPost("missing_text", f"missing or empty text ({source}/{external_id})")
    if not isinstance(text, str):
        raise InvalidPost("bad_text", f"text is {type(text).__name__}")
    body = html_to_text(text) if text_format == "html" else clean_text(text)
    if not body:
        raise InvalidPost("missing_text", f"missing or empty text ({source}/{external_id})")
    body = body[:MAX_TEXT_CHARS]
    try:
        when = parse_datetime(created_at)
    except (ValueError, TypeError, OverflowError, OSError):
        raise InvalidPost("bad_date", f"bad date {str(created_at)[:60]!r}") from None
    if raw is not None and not isinstance(raw, Mapping):
        raw = {"value": raw}
    if raw is not None and check_raw and not json_safe(raw):
        raise InvalidPost("bad_raw", "raw payload is not JSON-serialisable")
    products = products or ()
    if not isinstance(products, list | tuple) or not all(isinstance(p, str) for p in products):
        raise InvalidPost("bad_products", f"products {products!r}")
    clean_title = _optional_text(title, "title")
    return PostRecord(
        source=source, external_id=external_id, text=body, url=safe_url(url),
        author=_optional_text(author, "author"), title=clean_title, rating=_rating(rating), created_at=when,
        version=_optional_text(version, "version"),
        language=_optional_text(language, "language") or detect_language(body),
        found_by=_optional_text(found_by, "found_by"), raw=dict(raw) if raw is not None else None,
        products=tuple(products),
    )
