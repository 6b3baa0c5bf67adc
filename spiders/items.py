"""The item every voxpop spider yields: one post as the source gave it, not yet validated.

Spiders fill what the source gives; ``NormalizePipeline`` turns it, once, into the one post
contract :class:`voxpop.core.post.PostRecord` through :func:`voxpop.core.post.validate_post` (the
validator ``voxpop import`` uses too), and that record is what the store pipeline writes. Plain
``dict`` items with the same keys are accepted too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from voxpop.core.post import TEXT_FORMATS

__all__ = ["ITEM_FIELDS", "TEXT_FORMATS", "PostItem"]


@dataclass
class PostItem:
    """One review or forum post as a spider found it (not yet validated).

    Attributes:
        source: the spider name (``appstore``, ``discourse``, ...); filled from the spider when empty.
        external_id: the id the source gives the post; unique within the source.
        text: the body; HTML when ``text_format == "html"``.
        rating: on the 1..5 scale of ``voxpop.core.post`` (spiders scale the source's own), or None.
        created_at: a ``datetime`` or any form ``voxpop.core.text.parse_datetime`` reads.
        products: extra product slugs a community post names (the crawled product is implied).
        raw: the source's own record, kept as-is (must be JSON-serialisable).
    """

    external_id: str
    text: str
    source: str = ""
    url: str | None = None
    author: str | None = None
    title: str | None = None
    rating: float | None = None
    created_at: datetime | str | int | float | None = None
    version: str | None = None
    language: str | None = None
    found_by: str | None = None
    raw: dict[str, Any] | None = None
    products: list[str] = field(default_factory=list)
    text_format: str = "text"

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> PostItem:
        """Build an item from a parser's dict, ignoring keys that are not item fields."""
        values = {k: v for k, v in {**data, **overrides}.items() if k in _NAMES}
        values.setdefault("external_id", "")
        values.setdefault("text", "")
        if values.get("products") is None:
            values["products"] = []
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The item as a plain dict."""
        return asdict(self)


ITEM_FIELDS = tuple(f.name for f in fields(PostItem))
_NAMES = frozenset(ITEM_FIELDS)
