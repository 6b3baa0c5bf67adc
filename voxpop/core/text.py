"""Text helpers for hostile scraped text: cleaning, HTML to text, header-safe text (language: ``language.py``).

Part of ``voxpop.core``: imports nothing of ours and nothing heavy (w3lib comes with Scrapy).
"""

from __future__ import annotations

import re
import unicodedata

from w3lib.html import remove_comments, remove_tags_with_content, replace_entities, replace_tags

# C0/C1 controls (but tab, LF, CR), zero-width characters, line/paragraph separators, BOM and the
# bidirectional controls (embeddings, overrides, isolates, marks) that can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/pre|/tr)\b[^>]*>")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
# Anything clean_text would change: control/zero-width characters, tabs, CR, NBSP, doubled or
# line-edge spaces, more than one blank line, leading or trailing whitespace.
_DIRTY = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\t\xa0]"
    r"|  | \n|\n |\n\n\n|\A\s|\s\Z")


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
    """Turn HTML (Discourse ``cooked``, Mastodon ``content``) into plain text, never executing anything.

    w3lib drops comments, ``script``/``style`` with their content and every tag; block ends become
    line breaks; entities are decoded last, so an escaped ``&lt;b&gt;`` stays text.
    """
    if not markup:
        return ""
    text = remove_tags_with_content(remove_comments(markup), which_ones=("script", "style"))
    text = _BLOCK_TAGS.sub("\n", text)
    text = replace_tags(text, token="")
    return clean_text(replace_entities(text))


def header_safe(value: str, limit: int = 200) -> str:
    """Make scraped text safe for an email header: no CR/LF or control characters, bounded length."""
    flat = _HEADER_UNSAFE.sub(" ", clean_text(value))
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
