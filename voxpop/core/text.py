"""Text helpers for hostile scraped text: cleaning, HTML to text, header-safe text (language: ``language.py``).

Part of ``voxpop.core``: imports nothing of ours and nothing heavy (w3lib comes with Scrapy).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Control characters, zero-width characters and every bidirectional formatting control (embeddings,
# overrides, isolates, marks: U+061C, U+200E-F, U+202A-E, U+2066-9), which can reverse how a subject or
# a file name reads ("Trojan Source"), plus invisible joiners and separators.
_INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
              "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029" + _INVISIBLE + "]")
_SPACE = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/pre|/tr)\b[^>]*>")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
# Anything clean_text would change: control/zero-width characters, tabs, CR, NBSP, doubled or
# line-edge spaces, more than one blank line, leading or trailing whitespace.
_DIRTY = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\t\xa0" + _INVISIBLE + r"]|  | \n|\n |\n\n\n|\A\s|\s\Z")


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
    # Imported here: w3lib pulls in urllib.request and ssl, which the commands that never parse HTML (the
    # report, the dashboard) would otherwise pay for at start.
    from w3lib.html import remove_comments, remove_tags_with_content, replace_entities, replace_tags

    text = remove_tags_with_content(remove_comments(markup), which_ones=("script", "style"))
    text = _BLOCK_TAGS.sub("\n", text)
    text = replace_tags(text, token="")
    return clean_text(replace_entities(text))


def header_safe(value: str, limit: int = 200) -> str:
    """Make scraped text safe for an email header or a one-line display: no CR/LF, control, zero-width or
    bidirectional formatting characters, bounded length."""
    flat = _HEADER_UNSAFE.sub(" ", clean_text(value))
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def strip_invisible(value: str) -> str:
    """``value`` without control, zero-width and bidirectional formatting characters (whitespace kept)."""
    return _CONTROL.sub("", value) if _CONTROL.search(value) else value


def display_name(value: object, limit: int = 200) -> str:
    """A name from the config or the store made safe to show: one line, no invisible or bidi controls."""
    return header_safe(str(value), limit) if value is not None else ""


_URL_UNSAFE = re.compile(r"[\x00-\x20\"'<>`\\]")


def clean_url(value: object, limit: int = 2000) -> str | None:
    """An http(s) URL with a host after invisible and bidi controls are stripped; None for anything else.

    Stripping comes first, so ``https://ex.com/\u202eexe.txt`` is kept as ``https://ex.com/exe.txt`` and
    ``java\u200bscript:`` is refused as the ``javascript:`` it reads as.
    """
    if not isinstance(value, str):
        return None
    url = strip_invisible(value.strip()).strip()
    if not url or len(url) > limit or _URL_UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and host else None
