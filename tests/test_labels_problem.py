"""Labels that name the problem: object + what goes wrong in the members' words, never a fragment that
ends on a preposition or a waiting adjective; feature requests say what is wanted (the real encoder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from alerts.labels import DANGLING, finish_label, label_issue, says_problem

BACKGROUND = [
    "Love this notes app, clean and fast.", "Great for my recipes and journals.", "Five stars, works well.",
    "Search finds my notes in a second.", "Tags keep my notebooks organised.", "I use it every day at work.",
] * 20
EXPORT = [  # written for this test: an export that crashes, said many ways
    "The PDF export crashes every single time.", "Tapping PDF export closes the app.",
    "PDF export does nothing and then the app crashes.", "Since the update the PDF export crashes on big notes.",
    "PDF export used to work, now it crashes.", "Why does PDF export crash on my iPad?",
]
LOCK = [
    "Please let me lock individual notes with a password.", "I want to lock individual notes, not the whole app.",
    "Lock individual notes please.", "Would love to lock individual notes with Face ID.",
]
DARK = ["Please add a dark mode.", "Dark mode would be easier on my eyes.", "Any plans for dark mode?",
        "Dark mode please, the white is blinding."]


@pytest.fixture(scope="module")
def embed() -> Callable[[Any], np.ndarray]:
    from classify.encoder import Encoder

    return Encoder().encode


def _label(group: list[str], embed: Callable[[Any], np.ndarray], problem: bool) -> str:
    centroid = np.asarray(embed(group), np.float64).mean(axis=0)
    return label_issue(group, centroid, BACKGROUND, embed, problem=problem)[0]


def test_problem_labels_say_what_goes_wrong_and_requests_what_is_wanted(embed: Callable[[Any], np.ndarray]) -> None:
    export = _label(EXPORT, embed, True)
    assert says_problem(export) and "export" in export.lower(), export
    lock = _label(LOCK, embed, False)
    assert lock.split()[-1].lower() not in DANGLING and "lock" in lock.lower(), lock
    dark = _label(DARK, embed, False)
    assert dark.lower() == "dark mode"


def test_finish_label_completes_fragments_and_adds_the_members_problem_word() -> None:
    assert finish_label("PDF export", ["App crashes when I tap export to PDF.", "PDF export crashed again.",
                                       "PDF export is great otherwise"]) == "PDF export crashes"
    assert finish_label("nest notebooks inside", ["Let me nest notebooks inside folders.",
                                                  "nest notebooks inside folders please"]) == (
        "nest notebooks inside folders")
    assert finish_label("lock individual", ["lock individual"] * 5) == "lock"  # no noun to finish it: cut
    assert finish_label("can't sign in", ["I can't sign in since the update"]) == "can't sign in"
    # One mention is enough only when the topic is a problem; a request keeps its words.
    texts = ["sync please between my phone and laptop"] * 5 + ["sync is slow"]
    assert finish_label("sync", texts) == "sync" and finish_label("sync", texts, problem=True) == "slow sync"
    assert finish_label("dark mode", ["dark mode please"] * 3, problem=True) == "dark mode"
