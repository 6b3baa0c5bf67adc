"""Classifier v2 with the real shipped model: the rating as an input, needs per sentence, whole-sentence evidence."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = pytest.mark.slow

CRASH = "PDF export is unusable, it crashes the app every time I try to save a note."
REQUEST_IN_PRAISE = ("I use this planner every single day and it has made my week calmer. "
                     "Please add a widget for the home screen so I can see today's tasks.")
PRAISE = ["Search is superb, I find old notes in a second. Five stars.",
          "Sharing a page with my team is effortless and it always looks right.",
          "Honestly the best budgeting app I have used, clean and quick."]


@pytest.fixture(scope="module")
def clf() -> Iterator[object]:
    from classify import Classifier

    yield Classifier()


def test_one_star_crash_is_negative_problem_with_or_without_the_rating(clf) -> None:
    rated, bare = clf.predict([CRASH, CRASH], ratings=[1, None])
    for p in (rated, bare):
        assert (p.sentiment, p.need_type, p.unmet_need) == ("negative", "problem", True)
    assert rated.sentiment_score <= bare.sentiment_score  # one star only makes it more negative


def test_five_star_review_asking_for_a_feature_is_positive_feature_request(clf) -> None:
    p = clf.predict([REQUEST_IN_PRAISE], ratings=[5])[0]
    assert (p.sentiment, p.need_type, p.unmet_need) == ("positive", "feature_request", True)
    # The evidence is the requesting sentence, not the praise around it.
    assert p.evidence == "Please add a widget for the home screen so I can see today's tasks."


def test_pure_praise_is_praise_and_never_an_unmet_need(clf) -> None:
    preds = clf.predict(PRAISE, ratings=[5, 5, None])
    assert [p.unmet_need for p in preds] == [False, False, False]
    assert [p.sentiment for p in preds] == ["positive"] * 3
    assert sum(p.need_type == "praise" for p in preds) >= 2


def test_evidence_is_the_self_explaining_sentence(clf) -> None:
    text = "Since the last update the app crashes every time I open a shared notebook. Reinstalling did not help."
    p = clf.predict([text], ratings=[2])[0]
    assert p.need_type == "problem"
    assert p.evidence == "Since the last update the app crashes every time I open a shared notebook."


def test_the_rating_slot_ignores_values_that_are_not_stars(clf) -> None:
    # A rating outside 1-5 (or not a number) is the "no rating" input, not an error or a wrong star.
    base, odd, junk = clf.predict([CRASH] * 3, ratings=[None, 9, float("nan")])
    assert base.sentiment_score == odd.sentiment_score == junk.sentiment_score


def test_model_version_follows_the_thresholds(clf, tmp_path: Path) -> None:
    from classify import Classifier
    from classify.pipeline import PACKAGED_MODEL

    heads = tmp_path / "model"
    heads.mkdir()
    shutil.copy(PACKAGED_MODEL / "heads.npz", heads / "heads.npz")
    meta = json.loads((PACKAGED_MODEL / "meta.json").read_text(encoding="utf-8"))
    meta["sentence_rule"] = {"unmet_weight": meta["sentence_rule"]["unmet_weight"] + 0.5}
    (heads / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    other = Classifier(model_dir=PACKAGED_MODEL / "encoder", heads_dir=heads)
    assert other.model_version != clf.model_version
    assert other.model_version.split("-")[:2] == clf.model_version.split("-")[:2]
