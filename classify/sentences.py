"""A small rule-based sentence splitter for reviews and forum posts."""

from __future__ import annotations

import re

_BREAK = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n+\s*")
# A piece shorter than this ("Thanks", "Ugh.", "Why?!") says nothing alone: it joins its neighbour, so that
# evidence is always a whole, self-explaining sentence.
_MIN_CHARS = 12


def sentence_spans(text: str, max_sentences: int = 12) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``.

    Breaks at end punctuation followed by a capital or digit, and at line breaks. A piece shorter than
    ``_MIN_CHARS`` joins the previous sentence (the next one when it comes first); past ``max_sentences``
    the remainder is one last span so the cost stays bounded.
    """
    text = text or ""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in [*_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        piece = text[pos:end]
        stripped = piece.strip()
        if stripped:
            a = pos + (len(piece) - len(piece.lstrip()))
            b = a + len(stripped)
            if spans and len(stripped) < _MIN_CHARS:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        if m:
            pos = m.end()
    if len(spans) > 1 and spans[0][1] - spans[0][0] < _MIN_CHARS:
        spans[:2] = [(spans[0][0], spans[1][1])]
    if len(spans) > max_sentences:
        spans = spans[: max_sentences - 1] + [(spans[max_sentences - 1][0], spans[-1][1])]
    return spans


def split_sentences(text: str, max_sentences: int = 12) -> list[str]:
    """The sentences of ``text`` as strings (see ``sentence_spans``)."""
    return [text[a:b] for a, b in sentence_spans(text, max_sentences)]


def compose_post(text: str, title: str | None = None) -> str:
    """The text the post-level embedding sees: the title (when any) as a first sentence, then the body."""
    title = (title or "").strip()
    if not title:
        return text
    end = "" if title[-1] in ".!?…" else "."
    return f"{title}{end} {text}"
