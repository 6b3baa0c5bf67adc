"""Language identification with py3langid (a maintained, offline fork of langid.py) and a review-stream prior.

``detect_language`` returns an ISO 639-1 code, or None when the text has fewer than ``MIN_LETTERS`` letters.
The classifier handles ``CLASSIFIED_LANGUAGES``; posts in any other language are flagged and counted.

Short reviews give the identifier little evidence: "Sync is broken, notes vanish" scores Dutch 0.78 and
English 0.13 on character n-grams alone. The posts this product reads are mostly English and otherwise mostly
in the other classified languages, so the identifier's probabilities are multiplied by a prior (Bayes' rule)
before the choice: English x ``ENGLISH_PRIOR``, the other classified languages x ``CLASSIFIED_PRIOR``. On a long
text the likelihoods differ by many orders of magnitude and the prior changes nothing; on a five-word review it
decides between close guesses, so even "Cool app" gets a language (the prior's, English, when the letters say
little). The weights and the letter minimum were chosen on a dev sample by ``bench/language.py``, which also
compares lingua (more accurate on junk, but 100 MB of models and about 0.8 GB of memory to load them).
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
# Prior weights (relative to 1 for every other candidate); dev-chosen by bench/language.py.
ENGLISH_PRIOR = 10.0
CLASSIFIED_PRIOR = 2.0
MIN_LETTERS = 3
_SAMPLE_CHARS = 400  # plenty to tell, and bounded time per post
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(_CANDIDATES))
    return ident


def language_probabilities(text: str | None, english_prior: float = ENGLISH_PRIOR,
                           classified_prior: float = CLASSIFIED_PRIOR, min_letters: int = MIN_LETTERS
                           ) -> list[tuple[str, float]] | None:
    """Posterior probabilities of the candidate languages, best first; None when there are too few letters."""
    sample = (text or "")[:_SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < min_letters:
        return None
    ranked = _identifier().rank(sample)
    weighted = [(str(lang), float(p) * (english_prior if lang == "en" else
                                        classified_prior if lang in CLASSIFIED_LANGUAGES else 1.0))
                for lang, p in ranked]
    total = sum(p for _, p in weighted) or 1.0
    return sorted(((lang, p / total) for lang, p in weighted), key=lambda lp: -lp[1])


def detect_language(text: str | None, english_prior: float = ENGLISH_PRIOR,
                    classified_prior: float = CLASSIFIED_PRIOR, min_letters: int = MIN_LETTERS) -> str | None:
    """ISO 639-1 code of ``text``'s language (the most probable after the prior), or None with too few letters.

    No confidence cut: a weak guess is where the prior decides (dev: a 0.5 cut left 2% of English reviews
    without a language and recognised fewer de/es/fr/it/pt tweets).
    """
    ranked = language_probabilities(text, english_prior, classified_prior, min_letters)
    return ranked[0][0] if ranked else None


def is_classified(language: str | None) -> bool:
    """True when the classifier's heads are trusted on this language (unknown counts as trusted)."""
    return language is None or language in CLASSIFIED_LANGUAGES
