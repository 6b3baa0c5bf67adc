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


def test_failures_read_how_customers_say_what_goes_wrong() -> None:
    from alerts.failures import commonest, failures

    def said(sentence: str) -> list[str]:
        return [f"{f.text} {' '.join(f.object)}".strip() for f in failures(sentence)]

    assert said("The app doesn't seem to be able to create branches anymore.") == ["can't create branches"]
    assert said("Since Tuesday I am unable to log in") == ["can't log in"]
    assert said("it won't let me attach photos") == ["can't attach photos"]
    assert said("Reminders are not showing up on my watch") == ["not showing up"]
    assert said("It keeps logging me out") == ["keeps logging out"]
    assert said("No sound during calls") == ["no sound"] and said("no problems at all, five stars") == []
    assert said("Something went wrong, try again") == ["error"]
    assert said("the widget doesn&#39;t work") == ["not working"]  # escaped feeds read as written
    best = commonest(["Video won't load.", "The video won't load on wifi.", "Video crashes sometimes"])
    assert best is not None and (best[0].text, best[1]) == ("won't load", 2)


def test_problem_labels_join_the_object_and_the_failure_and_are_never_one_word() -> None:
    crashing = ["the app crashed when I opened the calendar", "calendar view crashes", "calendar is fine"]
    assert finish_label("calendar", crashing, problem=True) == "calendar crashes"
    branches = ["can't create branches on my phone", "I cannot create branches", "create branches please"]
    assert finish_label("branches", branches, problem=True) == "can't create branches"
    assert finish_label("sign in", ["unable to sign in since Monday"], problem=True) == "can't sign in"
    assert finish_label("audio", ["no audio in calls", "audio gone"], problem=True) == "no audio"
    # A problem topic whose label's sentences say nothing wrong takes what its members say goes wrong.
    assert says_problem(finish_label("meeting room", ["meeting room", "the screen stays blank"], problem=True))
    # One word never stands alone when the members say more around it.
    assert finish_label("widget", ["home screen widget please", "a home screen widget would help"]) == (
        "home screen widget")
    assert finish_label("browser", ["opens links in the browser", "links open outside"],
                        keywords=["links", "browser"]) == "links browser"
