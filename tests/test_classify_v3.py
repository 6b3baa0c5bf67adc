"""Classifier v3 with the real shipped model: honest file mode, language, titles, mixed reviews, evidence."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clf() -> Iterator[object]:
    from classify import Classifier

    yield Classifier()


def test_file_mode_says_which_rows_it_did_not_classify(clf, tmp_path: Path) -> None:
    from classify.filemode import classify_file

    src = tmp_path / "posts.jsonl"
    posts = [{"id": 1, "text": "The app crashes every time I open a shared notebook.", "rating": 1},
             {"id": 2, "text": "このアプリは起動するたびにクラッシュします。早く直してください。", "rating": 1},
             {"id": 3, "text": "Die App stürzt bei jedem Start ab und alle meine Notizen sind weg."}]
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts) + "{oops\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = classify_file(src, out, None, clf)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert result.as_dict() == {"rows": 4, "ok": 2, "skipped": 1, "errors": 1}
    assert [(r["classified"], r["language"]) for r in rows] == [(True, "en"), (False, "ja"), (True, "de"),
                                                                (False, None)]
    assert all("reason" not in r for r in rows if r["classified"])
    skipped = rows[1]
    assert skipped["reason"] == "unsupported_language: ja"
    # No placeholder reading that could pass for a prediction.
    for key in ("sentiment", "sentiment_score", "need_type", "need_score", "unmet_need", "evidence"):
        assert skipped[key] is None, key
    assert skipped["jobs"] == []
    assert rows[0]["sentiment"] == "negative" and rows[0]["need_type"] == "problem"
    assert rows[3]["reason"] == "invalid_input" and "line 4" in rows[3]["error"]


def test_a_short_english_one_star_review_is_read_not_skipped(clf) -> None:
    p = clf.predict(["Sync is broken, notes vanish"], ratings=[1])[0]
    assert (p.language, p.classified, p.sentiment) == ("en", True, "negative")


def test_a_neutral_sounding_title_never_softens_a_low_star_complaint(clf) -> None:
    from voxpop.demo.content import BURST

    for rating in (1, 2):
        bare = clf.predict(BURST, ratings=[rating] * len(BURST))
        titled = clf.predict(BURST, titles=["PDF export crash"] * len(BURST), ratings=[rating] * len(BURST))
        assert [p.sentiment for p in titled] == ["negative"] * len(BURST), rating
        assert all(t.sentiment == "negative" for b, t in zip(bare, titled, strict=True) if b.sentiment == "negative")


def test_a_mixed_review_is_neutral_and_keeps_each_sentence_sentiment(clf) -> None:
    text = ("I love the clean design and the search is superb. "
            "But sync is broken and my notes vanish every single day.")
    for rating in (3, None):
        p = clf.predict([text], ratings=[rating])[0]
        assert (p.sentiment, p.mixed) == ("neutral", True), rating
        assert [s for _, s in p.sentences] == ["positive", "negative"]
    # The same words with one star are a complaint, not a mixed review.
    assert clf.predict([text], ratings=[1])[0].sentiment == "negative"
    # Plain praise and plain complaints are not mixed.
    praise, crash = clf.predict(["Lovely app. The search is superb and quick.",
                                 "The app crashes on start. I lost all my notes."])
    assert (praise.sentiment, praise.mixed, crash.sentiment, crash.mixed) == ("positive", False, "negative", False)


def test_evidence_on_the_demo_crash_posts_states_the_problem_with_its_object(clf) -> None:
    from classify.evidence import carries_point
    from voxpop.demo.content import BURST

    preds = clf.predict(BURST, titles=["PDF export crash"] * len(BURST), ratings=[1] * len(BURST))
    for text, p in zip(BURST, preds, strict=True):
        assert carries_point(p.evidence) and "PDF" in p.evidence, (text, p.evidence)
        assert "Reinstalling" not in p.evidence and "please" not in p.evidence.lower()
    es, de = clf.predict(["La app se cierra cada vez que exporto a PDF. Por favor arreglen esto.",
                          "Die App stürzt beim PDF-Export jedes Mal ab. Sehr enttäuschend!"], ratings=[2, 1])
    assert (es.evidence, de.evidence) == ("La app se cierra cada vez que exporto a PDF.",
                                          "Die App stürzt beim PDF-Export jedes Mal ab.")


def test_crash_reports_in_other_languages_are_problems(clf) -> None:
    texts = ["La aplicación se cierra cada vez que intento exportar una nota a PDF. Por favor arreglen esto.",
             "Die App stürzt bei jedem Export als PDF ab, seit dem letzten Update.",
             "L'application plante à chaque fois que j'exporte une note en PDF.",
             "L'app si blocca ogni volta che esporto una nota in PDF.",
             "O aplicativo fecha sozinho toda vez que tento exportar uma nota em PDF."]
    preds = clf.predict(texts, ratings=[2, 1, 1, 2, 2])
    assert [p.language for p in preds] == ["es", "de", "fr", "it", "pt"]
    assert [p.need_type for p in preds] == ["problem"] * 5
    assert all(p.sentiment == "negative" and p.unmet_need for p in preds)


def test_a_mixed_review_with_a_problem_is_a_problem_and_quotes_it(clf) -> None:
    # A PM reads a 4-star "love it, but export crashes" as a problem report: the need type and the evidence follow
    # the problem sentence, not the praise. The second post was praise before the mixed-review rule.
    texts = ["Love the design and the tags are great. But it crashes every time I export to PDF.",
             "Absolutely love the workouts and the coaches. The video stalls at the same spot in every class."]
    for rating in (4, None):
        crash, video = clf.predict(texts, ratings=[rating, rating])
        assert (crash.need_type, crash.unmet_need) == ("problem", True), rating
        assert crash.evidence == "But it crashes every time I export to PDF.", rating
        assert (video.need_type, video.evidence) == ("problem", "The video stalls at the same spot in every class.")
    # Plain praise stays praise, with or without stars.
    for rating in (5, None):
        praise = clf.predict(["Best notes app I've used. Everything just works."], ratings=[rating])[0]
        assert (praise.need_type, praise.unmet_need) == ("praise", False), rating
