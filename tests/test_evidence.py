"""Evidence that carries the point: content words, the pair rule, and what gives way."""

from __future__ import annotations

import numpy as np
import pytest

from classify.evidence import carries_point, choose_evidence


@pytest.mark.parametrize("sentence", ["Reinstalling did not help.", "Sehr enttäuschend!", "Por favor arreglen esto.",
                                      "Please fix this asap!!", "Très décevant, vraiment nul."])
def test_pleas_and_verdicts_carry_no_point(sentence: str) -> None:
    assert not carries_point(sentence)


@pytest.mark.parametrize("sentence", ["Since the 4.2 update the app crashes every time I export a note to PDF.",
                                      "Die App stürzt beim PDF-Export ab.", "La app se cierra al exportar.",
                                      "Crash when exporting to PDF."])
def test_statements_of_the_problem_carry_it(sentence: str) -> None:
    assert carries_point(sentence)


def test_a_sentence_with_no_point_gives_way_to_the_next_best() -> None:
    sentences = ["The app crashes when I export a note to PDF.", "Reinstalling did not help."]
    assert choose_evidence(sentences, np.array([0.4, 0.6])) == (0, 0)


def test_object_then_failure_gives_the_two_sentences() -> None:
    sentences = ["I love the colours.", "I export my meeting notes to PDF every week.", "Since the update it closes."]
    assert choose_evidence(sentences, np.array([0.1, 0.3, 0.6])) == (1, 2)


def test_nothing_better_keeps_the_best() -> None:
    assert choose_evidence(["Ugh.", "Please fix!"], np.array([0.2, 0.7])) == (1, 1)
    assert choose_evidence([], np.zeros(0)) == (0, 0)


def test_failure_and_request_words_of_the_other_languages() -> None:
    from classify.multilingual_need import cue_label

    assert cue_label("Die App stürzt beim Export ab.", "de") == "problem"
    assert cue_label("La app no funciona desde ayer.", "es") == "problem"
    assert cue_label("Ce serait bien d'avoir un mode sombre.", "fr") == "feature_request"
    assert cue_label("Bellissima app, la uso ogni giorno.", "it") is None
    assert cue_label("The app crashes.", "en") is None
    assert cue_label("Me encanta, es rápida y nunca me ha fallado.", "es") is None


@pytest.mark.parametrize("sentence", ["Mostly happy.", "Needs a redesign honestly."])
def test_verdicts_name_no_object(sentence: str) -> None:
    assert not carries_point(sentence)


def test_an_earlier_statement_wins_over_its_consequence() -> None:
    sentences = ["The watch stopped syncing sleep data with the phone.", "The last five nights are blank."]
    assert choose_evidence(sentences, np.array([0.82, 0.84])) == (0, 0)  # nearly as heavy, and first
    assert choose_evidence(sentences, np.array([0.40, 0.84])) == (1, 1)  # far lighter: the weights decide


def test_the_evidence_set_names_own_posts_and_spans_that_exist() -> None:
    from bench.evidence import chosen_span
    from bench.labels.evidence_set import EvidenceLabel, load_posts, n_sentences, read_labels

    labels = read_labels()
    own: list[EvidenceLabel] = [lab for lab in labels if not lab.id.startswith("need_type/")]
    assert {lab.split for lab in own} == {"dev", "test"}
    posts = load_posts(own)
    for lab in own:
        assert lab.accept and max(b for _, b in lab.accept) < n_sentences(posts[lab.id].text), lab.id
    assert chosen_span(["A b.", "C d."], "A b. C d.") == (0, 1)
    assert chosen_span(["A b.", "C d."], "E f.") is None
