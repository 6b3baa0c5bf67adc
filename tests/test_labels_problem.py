"""Labels that name the problem: object + what goes wrong in the members' words, never a fragment that
ends on a preposition or a waiting adjective; feature requests say what is wanted (the real encoder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from alerts.labels import DANGLING, finish_label, label_issue, object_words, says_problem

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


# Written for these tests: complaints that open with how the writer feels, or with the product's name.
SIGN_IN = ["So aggravated as Zoom: can't sign in since the update.", "Aggravated as zoom, I can't sign in at all",
           "can't sign in on my laptop", "Really frustrated, unable to sign in to meetings"]


def test_a_joined_label_keeps_the_object_and_drops_the_lead_in() -> None:
    assert object_words("aggravated as Zoom:".split(), {"zoom"}) == []
    assert object_words(["frustrated", "with", "meetings"]) == ["meetings"]
    assert object_words(["(PDF", "export,"]) == ["PDF", "export"] and object_words(["sign", "in"]) == ["sign", "in"]
    # The label a noisy phrase won: feeling + "as <product>" is no object, so the failure says it alone.
    assert finish_label("aggravated as zoom", SIGN_IN, problem=True, not_object={"zoom"}) == "can't sign in"
    assert finish_label("annoyed", ["annoyed, no audio in calls", "no audio again"], problem=True) == "no audio"
    joined = finish_label("frustrated with meetings", ["frustrated with meetings, keeps crashing",
                                                       "meetings keep crashing"], problem=True)
    assert joined == "meetings keeps crashing"
    # A real object keeps its place before the failure, and a request is left as it is.
    assert finish_label("upset calendar sync", ["calendar sync keeps failing", "calendar sync failed twice"],
                        problem=True) == "calendar sync fails"
    assert finish_label("dark mode", ["so frustrated there is no dark mode please"] * 3) == "dark mode"


def test_label_issue_leaves_the_products_name_out_of_a_joined_label() -> None:
    background = ["Zoom works fine for my classes.", "Zoom meetings are smooth.", "Good video on zoom."] * 20
    label, _ = label_issue(SIGN_IN * 3, None, background, problem=True, product_words={"zoom"})
    assert label == "can't sign in", label
    assert not {"aggravated", "zoom", "as"} & set(label.lower().split())


def test_a_passive_inability_keeps_its_be() -> None:
    from alerts.failures import failures

    said = [f.text for f in failures("On my tablet the sketches cannot be exported as images.")]
    assert said == ["can't be exported"]  # never "can't exported"
    assert failures("Honestly I can't be bothered to switch apps") == []  # an idiom, not a failure
    assert finish_label("sketches", ["sketches cannot be exported", "my sketches can not be exported at all"],
                        problem=True) == "sketches: can't be exported"
