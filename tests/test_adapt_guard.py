"""The product layer's guards on synthetic vectors: the neighbourhood gate, the held-out check, review's cold start."""

from __future__ import annotations

import numpy as np
import pytest

from classify.adapt import GLOBAL, ProductLayer, cross_validate, fit_layer, fit_residual, rank_for_review
from classify.labels import NEED_TYPES, SENTIMENTS


def _unit(rng: np.random.Generator, n: int, centre: np.ndarray, spread: float) -> np.ndarray:
    x = centre + spread * rng.standard_normal((n, len(centre)))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clusters(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = np.zeros(32), np.zeros(32)
    a[0], b[1] = 1.0, 1.0
    return _unit(rng, 20, a, 0.08), _unit(rng, 20, b, 0.08)


def test_one_sided_corrections_move_only_their_neighbourhood() -> None:
    near, far = _clusters()
    base = np.tile(np.asarray([[0.2, 0.6, 0.2]], dtype=np.float32), (40, 1))  # neutral everywhere
    head = fit_residual(near[:7], base[:7], ["negative"] * 7, SENTIMENTS)
    assert head.gate_lo > GLOBAL
    after = head.proba(np.vstack([near, far]), base).argmax(1)
    assert (after[:20] == SENTIMENTS.index("negative")).all()  # like the corrected posts
    assert (after[20:] == SENTIMENTS.index("neutral")).all()  # nothing like them: untouched


def test_a_head_that_does_not_help_on_held_out_corrections_is_not_kept() -> None:
    near, _ = _clusters()
    base = np.tile(np.asarray([[0.1, 0.1, 0.8]], dtype=np.float32), (20, 1))
    rng = np.random.default_rng(0)
    noisy = [SENTIMENTS[int(k)] for k in rng.integers(0, 3, 20)]  # labels with no pattern
    assert not cross_validate(near, base, noisy, SENTIMENTS).kept
    assert cross_validate(near[:8], base[:8], ["negative"] * 8, SENTIMENTS).kept
    assert not cross_validate(near[:1], base[:1], ["negative"], SENTIMENTS).kept  # one cannot be validated
    checks: dict = {}
    layer = fit_layer(near, base, np.full((20, len(NEED_TYPES)), 0.2, np.float32), sentiment=noisy,
                      need=[None] * 20, report=checks)
    assert layer.sentiment is None and not checks["sentiment"].kept


def test_layers_round_trip_with_their_gate() -> None:
    near, _ = _clusters()
    base = np.tile(np.asarray([[0.2, 0.6, 0.2]], dtype=np.float32), (7, 1))
    layer = ProductLayer(sentiment=fit_residual(near[:7], base, ["negative"] * 7, SENTIMENTS))
    again = ProductLayer.from_bytes(layer.to_bytes())
    assert again.sentiment is not None and again.sentiment.gate_lo == pytest.approx(layer.sentiment.gate_lo)


def test_review_starts_with_typical_diverse_posts_then_uncertain_ones() -> None:
    near, far = _clusters()
    vecs = np.vstack([near, far, _unit(np.random.default_rng(9), 1, np.ones(32), 1.0)])
    sent = np.tile(np.asarray([[0.1, 0.1, 0.8]], dtype=np.float32), (len(vecs), 1))
    need = np.tile(np.asarray([[0.9, 0.025, 0.025, 0.025, 0.025]], dtype=np.float32), (len(vecs), 1))
    need[5] = [0.3, 0.3, 0.2, 0.1, 0.1]  # the one post the model is unsure about
    cold = rank_for_review(vecs, sent, need, 2, cold_start=True)
    assert {p.index < 20 for p in cold} == {True, False}  # one of each cluster, not two alike
    assert all("typical" in p.reason for p in cold)
    warm = rank_for_review(vecs, sent, need, 1)
    assert warm[0].index == 5 and "unsure" in warm[0].reason
