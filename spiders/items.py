"""The item every voxpop spider yields: one post with the fields of ``store.repo.PostRecord``.

Spiders fill what the source gives; the pipelines validate, normalise (HTML to text, control
characters, whitespace, dates to UTC, language) and store. Plain ``dict`` items with the same keys
are accepted too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

TEXT_FORMATS = ("text", "html")


@dataclass
class PostItem:
    """One review or forum post as a spider found it (not yet validated).

    Attributes:
        source: the spider name (``appstore``, ``discourse``, ...); filled from the spider when empty.
        external_id: the id the source gives the post; unique within the source.
        text: the body; HTML when ``text_format == "html"``.
        rating: on a 1..5 scale (spiders scale the source's own scale), or None.
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
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in {**data, **overrides}.items() if k in names}
        values.setdefault("external_id", "")
        values.setdefault("text", "")
        if values.get("products") is None:
            values["products"] = []
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The item as a plain dict."""
        return asdict(self)


ITEM_FIELDS = tuple(f.name for f in fields(PostItem))
