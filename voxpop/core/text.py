"""Text helpers for hostile scraped text: cleaning, HTML to text, header-safe text, a language guess.

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
_NOT_LETTER = re.compile(r"[\W\d_]+")
_NON_LATIN = re.compile(r"[^\x00-\u024f]")
_WORD = re.compile(r"[a-zà-ÿ']+")
_LANGUAGE_SAMPLE_CHARS = 2000

# Frequent function words: enough to tell English from most other languages on a sentence or more.
_ENGLISH = frozenset(
    "the and to of a i it is in that this for you was with on my but not have are be they so just "
    "app can at all if me do or what an as when your would there get one from out like no has had "
    "will we them very its it's don't can't i'm been more than about up how why great good love "
    "please update now time use using work works doesn't".split()
)
_OTHER = frozenset(
    "el la los las de que y en un una es por para con no muy pero le se lo "
    "der die das und ist nicht ich sie mit ein eine zu auf für "
    "le les des et est une pas je il que dans pour sur avec très "
    "il di che e non un una per è sono con mi "
    "o a de que e não um uma é para com muito "
    "de het een en is niet ik dat van op".split()
)
_OTHER_ONLY = _OTHER - _ENGLISH


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


def detect_language(text: str) -> str | None:
    """A cheap guess: ``"en"``, ``"other"`` or None when there is too little text to tell.

    Counts common English function words against common words of other Latin-script languages
    and the share of non-Latin letters. Good enough to route posts; not a general identifier.
    """
    text = text[:_LANGUAGE_SAMPLE_CHARS]  # plenty to tell, and bounded time per post
    letters = _NOT_LETTER.sub("", text)
    if len(letters) < 12:
        return None
    non_latin = len(_NON_LATIN.findall(letters))
    if non_latin / len(letters) > 0.3:
        return "other"
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return None
    english = len([w for w in words if w in _ENGLISH])
    other = len([w for w in words if w in _OTHER_ONLY])
    if english == 0 and other == 0:
        return "en" if len(words) < 6 else None
    return "en" if english >= other else "other"
