"""Classifier parts that need no model: sentences, heads, jobs scoring, jobs.toml loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classify.filemode import JobsFileError, load_jobs
from classify.heads import LinearHead, fit_linear_head, load_head
from classify.jobs import JobCalibration, JobIndex
from classify.sentences import compose_post, sentence_spans, split_sentences


def test_sentences_split_at_punctuation_and_line_breaks() -> None:
    text = "Love the app. But it crashes when I upload!! Please add dark mode?\nThanks"
    assert split_sentences(text) == ["Love the app.", "But it crashes when I upload!!", "Please add dark mode?\nThanks"]
    # A fragment too short to explain itself joins its neighbour (the next one when it comes first).
    assert split_sentences("Ugh. The app crashes on start. Why?") == ["Ugh. The app crashes on start. Why?"]
    assert [text[a:b] for a, b in sentence_spans(text)] == split_sentences(text)
    whole = "version 2.0 is out. e.g. this stays whole."
    assert split_sentences(whole) == [whole]
    assert split_sentences("") == []
    assert len(split_sentences(". ".join(f"Sentence {i}" for i in range(40)), max_sentences=5)) == 5


def test_compose_post_puts_the_title_first() -> None:
    assert compose_post("Body here.", "Great") == "Great. Body here."
    assert compose_post("Body here.", "Why?") == "Why? Body here."
    assert compose_post("Body here.", None) == "Body here."


def test_linear_head_learns_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(1, 0.3, (30, 4)), rng.normal(-1, 0.3, (30, 4))]).astype(np.float32)
    y = ["a"] * 30 + ["b"] * 30
    head = fit_linear_head(X, y, ("a", "b"))
    assert (np.asarray(head.classes)[head.proba(X).argmax(1)] == np.asarray(y)).mean() == 1.0
    again = load_head(head.to_arrays("h"), "h")
    assert isinstance(again, LinearHead)
    np.testing.assert_allclose(again.proba(X), head.proba(X), rtol=1e-5)


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_job_index_answers_none_below_threshold() -> None:
    cal = JobCalibration(zero_shot_threshold=0.5, few_shot_threshold=0.5, temperature=0.05, nearest_weight=0.0)
    ix = JobIndex.from_vectors(["pay", "ship"], [_unit([1, 0, 0])[None], _unit([0, 1, 0])[None]], cal)
    posts = np.stack([_unit([1, 0.1, 0]), _unit([0, 0, 1]), _unit([0.2, 1, 0])])
    top = ix.top(posts)
    assert [j.job for j in top[0]] == ["pay"]
    assert top[1] == ()
    assert top[2][0].job == "ship" and top[2][0].score > 0.5


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_load_jobs_reads_statements_and_examples(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[jobs]]\nid = "share"\nstatement = "share photos"\nexamples = ["send pics", " "]\n'
                            '[[jobs]]\nid = "pay"\nstatement = "get paid on time"\n')
    jobs = load_jobs(path)
    assert [(j.id, j.statement, j.examples) for j in jobs] == [("share", "share photos", ("send pics",)),
                                                               ("pay", "get paid on time", ())]


@pytest.mark.parametrize(("body", "key"), [
    ('[[jobs]]\nstatement = "x"\n', "jobs[0].id"),
    ('[[jobs]]\nid = "a"\n', "jobs[0].statement"),
    ('[[jobs]]\nid = "a"\nstatement = "x"\nexamples = "nope"\n', "jobs[0].examples"),
    ('[[jobs]]\nid = "a"\nstatement = "x"\n[[jobs]]\nid = "a"\nstatement = "y"\n', "jobs[1].id"),
    ('title = "no jobs"\n', "'jobs'"),
    ("[[jobs]\n", "not valid TOML"),
])
def test_load_jobs_errors_name_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(JobsFileError) as info:
        load_jobs(path)
    assert str(path) in str(info.value) and key in str(info.value)


def test_job_thresholds_by_example_count_and_hub_correction() -> None:
    cal = JobCalibration(zero_shot_threshold=0.3, few_shot_threshold=0.5, some_shot_threshold=0.4, many_examples=3,
                         hub_weight=1.0)
    zero, some, many = _unit([1, 0, 0])[None], np.stack([_unit([0, 1, 0])] * 2), np.stack([_unit([0, 0, 1])] * 4)
    ix = JobIndex.from_vectors(["a", "b", "c"], [zero, some, many], cal)
    assert ix.thresholds().tolist() == pytest.approx([0.3, 0.4, 0.5])
    background = np.stack([_unit([1, 0.2, 0]), _unit([1, 0, 0.1])])  # ordinary reviews sit near job "a"
    hubbed = JobIndex.from_vectors(["a", "b", "c"], [zero, some, many], cal, background)
    assert hubbed.hub is not None and hubbed.hub[0] > 0 > hubbed.hub[1]
    x = _unit([1, 1, 1])[None]
    assert hubbed.raw_scores(x)[0, 0] < ix.raw_scores(x)[0, 0] and hubbed.raw_scores(x)[0, 1] > ix.raw_scores(x)[0, 1]


def test_choose_steps_falls_back_to_use_within_the_margin() -> None:
    from classify.steps import StepCalibration, choose_steps

    raw = np.array([[0.50, 0.45, 0.1], [0.70, 0.45, 0.1]], dtype=np.float32)
    placed = choose_steps(raw, ["pay", "use", "leave"], StepCalibration(margin=0.1))
    assert [p[0] for p in placed] == ["use", "pay"] and all(0 < p[1] <= 1 for p in placed)


def test_a_mixed_review_takes_the_need_of_its_complaint_sentence() -> None:
    from classify.labels import NEED_TYPES
    from classify.pipeline import DEFAULT_SENTENCE_RULE, need_from_sentences

    rule = {**DEFAULT_SENTENCE_RULE, "unmet_weight": 0.6}
    post = np.array([0.05, 0.02, 0.0, 0.88, 0.05])  # the post reads as praise
    need = np.array([[0.01, 0.03, 0.0, 0.93, 0.03],  # "The filters are gorgeous."
                     [0.91, 0.04, 0.0, 0.04, 0.01]])  # "Saving to the gallery freezes the app."
    praise_then_complaint = np.array([[0.01, 0.06, 0.93], [0.52, 0.31, 0.17]])
    assert NEED_TYPES[need_from_sentences(post, need, rule)[1]] == "praise"  # without sentiments: as before
    p, k, at = need_from_sentences(post, need, rule, None, praise_then_complaint)
    assert (NEED_TYPES[k], at) == ("problem", 1)
    assert int(p.argmax()) == k and abs(float(p.sum()) - 1.0) < 1e-9  # the score follows the complaint sentence
    # No clear praise elsewhere, or the need sentence itself reads as praise: the post keeps its need type.
    neither = np.array([[0.30, 0.40, 0.30], [0.52, 0.31, 0.17]])
    assert NEED_TYPES[need_from_sentences(post, need, rule, None, neither)[1]] == "praise"
    both_praise = np.array([[0.01, 0.06, 0.93], [0.05, 0.10, 0.85]])
    assert NEED_TYPES[need_from_sentences(post, need, rule, None, both_praise)[1]] == "praise"
    # Switched off (no probability reaches 1.01).
    off = {**rule, "mixed_unmet_min": 1.01}
    assert NEED_TYPES[need_from_sentences(post, need, off, None, praise_then_complaint)[1]] == "praise"
