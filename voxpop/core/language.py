"""Language identification with py3langid (a maintained, offline fork of langid.py).

``detect_language`` returns an ISO 639-1 code, or None when the text is too short or the guess too weak to
trust. The classifier handles ``CLASSIFIED_LANGUAGES``; posts in any other language are flagged and counted.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Languages the classifier is trained and measured on.
CLASSIFIED_LANGUAGES: frozenset[str] = frozenset({"en", "de", "es", "fr", "it", "pt"})
# The identifier chooses among these: the languages reviews come in most, so that a short English review is not
# read as Luxembourgish. Anything else ends up as its closest listed language or, if weak, None.
_CANDIDATES = ("en", "de", "es", "fr", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ro", "hu", "el",
               "ru", "uk", "tr", "ar", "he", "hi", "id", "vi", "th", "ja", "zh", "ko")
_MIN_LETTERS = 12
_MIN_CONFIDENCE = 0.5
_SAMPLE_CHARS = 400  # plenty to tell, and bounded time per post
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(_CANDIDATES))
    return ident


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when there is too little text or the guess is weak."""
    sample = (text or "")[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < _MIN_LETTERS:
        return None
    lang, confidence = _identifier().classify(sample)
    return str(lang) if confidence >= _MIN_CONFIDENCE else None


def is_classified(language: str | None) -> bool:
    """True when the classifier's heads are trusted on this language (unknown counts as trusted)."""
    return language is None or language in CLASSIFIED_LANGUAGES
