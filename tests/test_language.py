"""Language identification: short English reviews stay English, the other classified languages are recognised."""

from __future__ import annotations

import pytest

from voxpop.core.language import detect_language, is_classified, language_probabilities

SHORT_ENGLISH = ["Sync is broken, notes vanish", "Good app, sync slow", "Export fails again",
                 "Incognito. Love the incognito mode", "Cool app", "Login loop, cannot sign in"]


@pytest.mark.parametrize("text", SHORT_ENGLISH)
def test_short_english_reviews_are_english(text: str) -> None:
    assert detect_language(text) == "en"


def test_the_prior_is_what_saves_them() -> None:
    # Without the review-stream prior py3langid reads this one as Dutch, and the post would be skipped.
    assert detect_language("Sync is broken, notes vanish", 1.0, 1.0) == "nl"


@pytest.mark.parametrize(("text", "lang"), [
    ("Die App stürzt bei jedem Start ab und alle meine Notizen sind weg.", "de"),
    ("La aplicación se cierra sola cada vez que intento exportar.", "es"),
    ("Application nulle, elle plante à chaque ouverture depuis la mise à jour.", "fr"),
    ("L'app si blocca ogni volta che provo a salvare una nota.", "it"),
    ("O aplicativo fecha sozinho toda vez que tento exportar.", "pt"),
    ("De app crasht steeds als ik een notitie wil opslaan en exporteren.", "nl"),
    ("このアプリは起動するたびにクラッシュします。", "ja"),
])
def test_other_languages_are_still_told_apart(text: str, lang: str) -> None:
    assert detect_language(text) == lang
    assert is_classified(lang) == (lang in {"de", "es", "fr", "it", "pt"})


def test_too_few_letters_is_unknown_and_unknown_is_classified() -> None:
    assert detect_language("ok") is None and detect_language("5/5 !!") is None
    assert is_classified(None)
    ranked = language_probabilities("Great app")
    assert ranked is not None and abs(sum(p for _, p in ranked) - 1.0) < 1e-6
