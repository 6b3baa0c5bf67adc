"""The memory of a product's job corrections (classify/corrected_jobs.py) on vectors made up for the test."""

from __future__ import annotations

import numpy as np

from classify.corrected_jobs import CorrectedJobs

IDS = ["export", "sync", "share"]


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


A, B, C = unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)


def test_a_post_corrected_to_two_jobs_is_one_row_and_gone_jobs_are_dropped() -> None:
    memory = CorrectedJobs.from_examples(IDS, {"export": np.stack([A, B]), "share": A[None], "old-job": C[None]})
    assert memory is not None
    assert memory.vecs.shape == (3, 3)
    assert memory.jobs.tolist() == [[True, False, True], [True, False, False], [False, False, False]]


def test_nothing_to_remember_gives_none() -> None:
    assert CorrectedJobs.from_examples(IDS, {}) is None
    assert CorrectedJobs.from_examples(IDS, {}, np.zeros((0, 3), np.float32)) is None


def test_only_posts_near_a_correction_move_and_a_twin_moves_most() -> None:
    memory = CorrectedJobs.from_examples(IDS, {"sync": A[None]}, no_jobs=B[None])
    assert memory is not None
    scores = np.full((4, 3), 0.2, dtype=np.float32)
    posts = np.stack([A, unit(1, 0.3, 0), unit(1, 1.5, 0), C])
    out = memory.raise_scores(posts, scores, neighbour_min=0.6)
    assert out[0, 1] == 1.0  # the corrected post's twin
    assert 0.5 < out[1, 1] < 1.0  # near it
    assert out[2, 1] == 0.2  # nearer the "no job" correction: nothing added
    assert out[3, 1] == 0.2  # far from every correction
    assert np.array_equal(np.delete(out, 1, axis=1), np.delete(scores, 1, axis=1))  # other jobs untouched


def test_a_job_already_above_the_lift_keeps_its_score_and_the_bound_can_turn_it_off() -> None:
    memory = CorrectedJobs.from_examples(IDS, {"export": unit(1, 0.3, 0)[None]})
    assert memory is not None
    scores = np.asarray([[0.97, 0.1, 0.1]], dtype=np.float32)
    assert memory.raise_scores(A[None], scores, 0.6)[0, 0] == np.float32(0.97)
    low = np.asarray([[0.1, 0.1, 0.1]], dtype=np.float32)
    assert memory.raise_scores(A[None], low, 1.0)[0, 0] == np.float32(0.1)
