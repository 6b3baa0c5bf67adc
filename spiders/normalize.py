"""Text normalisation shared by pipelines, ``voxpop import`` and the classifier: no heavy imports here."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime

# Control characters, zero-width characters and every bidirectional formatting control (embeddings,
# overrides, isolates, marks: U+061C, U+200E-F, U+202A-E, U+2066-9), which can reverse how a subject or
# a file name reads ("Trojan Source"), plus invisible joiners and separators.
_INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
              "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029" + _INVISIBLE + "]")
_SPACE = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/blockquote|/pre|/tr)\b[^>]*>")
_SCRIPT_STYLE = re.compile(r"(?is)<\s*(script|style)\b.*?<\s*/\s*\1\s*>")
_TAG = re.compile(r"(?s)<[^>]*>")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")
# Anything clean_text would change: control/zero-width characters, tabs, CR, NBSP, doubled or
# line-edge spaces, more than one blank line, leading or trailing whitespace.
_DIRTY = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\t\xa0" + _INVISIBLE + r"]|  | \n|\n |\n\n\n|\A\s|\s\Z")
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
    """Turn HTML (Discourse ``cooked``, Mastodon ``content``) into plain text, never executing anything."""
    if not markup:
        return ""
    text = _SCRIPT_STYLE.sub(" ", markup)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _TAG.sub("", text)
    return clean_text(html.unescape(text))


def header_safe(value: str, limit: int = 200) -> str:
    """Make scraped text safe for an email header or a one-line display: no CR/LF, control, zero-width or
    bidirectional formatting characters, bounded length."""
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
