"""Text normalisation shared by pipelines, ``voxpop import`` and the classifier: no heavy imports here."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime

from voxpop.core.language import detect_language  # noqa: F401  (re-exported: crawl and import detect here)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/pre|/tr)\b[^>]*>")
_SCRIPT_STYLE = re.compile(r"(?is)<\s*(script|style)\b.*?<\s*/\s*\1\s*>")
_TAG = re.compile(r"(?s)<[^>]*>")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
# Anything clean_text would change: control/zero-width characters, tabs, CR, NBSP, doubled or
# line-edge spaces, more than one blank line, leading or trailing whitespace.
_DIRTY = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff\t\xa0]|  | \n|\n |\n\n\n|\A\s|\s\Z")



def clean_text(value: str | None) -> str:
    """Strip control and zero-width characters, collapse whitespace, keep paragraph breaks."""
    if not value:
        return ""
    if not _DIRTY.search(value) and unicodedata.is_normalized("NFC", value):
        return value  # already clean: the common case, one scan instead of five
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def html_to_text(markup: str | None) -> str:
    """Turn HTML (Discourse ``cooked``, Mastodon ``content``) into plain text, never executing anything."""
    if not markup:
        return ""
    text = _SCRIPT_STYLE.sub(" ", markup)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _TAG.sub("", text)
    return clean_text(html.unescape(text))


def header_safe(value: str, limit: int = 200) -> str:
    """Make scraped text safe for an email header: no CR/LF or control characters, bounded length."""
    flat = _HEADER_UNSAFE.sub(" ", clean_text(value))
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def to_utc(value: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (naive input is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_datetime(value: object) -> datetime | None:
    """Parse the date forms the sources use: ISO 8601 (with Z or offset), dates, epoch seconds or ms.

    Returns None for empty input; raises ValueError for input that is present but unparseable.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return parse_datetime(float(text))
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0000 -> +00:00
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S", "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%Y/%m/%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"unrecognised date {str(value)[:60]!r}")
