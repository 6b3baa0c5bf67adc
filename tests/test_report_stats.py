"""Interval statistics of the comparison report, checked against published worked examples."""

from __future__ import annotations

import pytest

from alerts import stats
from voxpop.report.comparison import same_problem
from voxpop.report.figures import opportunity


def test_wilson_matches_newcombe_1998_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, method 3 (score, no continuity correction).
    assert stats.wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert stats.wilson(15, 148) == pytest.approx((0.0624, 0.1605), abs=5e-5)
    assert stats.wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=5e-5)
    assert stats.wilson(1, 29) == pytest.approx((0.0061, 0.1718), abs=5e-5)
    assert stats.wilson(3, 0) is None


def test_newcombe_difference_matches_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, method 10 (hybrid score).
    assert stats.newcombe(56, 70, 48, 80) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert stats.newcombe(9, 10, 3, 10) == pytest.approx((0.1705, 0.8090), abs=5e-5)
    assert stats.newcombe(5, 56, 0, 29) == pytest.approx((-0.0381, 0.1926), abs=5e-5)
    assert stats.newcombe(1, 0, 1, 3) is None


def test_significance_is_an_interval_that_excludes_zero() -> None:
    assert stats.excludes_zero((0.01, 0.2))
    assert stats.excludes_zero((-0.3, -0.01))
    assert not stats.excludes_zero((-0.01, 0.2))
    assert not stats.excludes_zero(None)


def test_mean_and_interval_from_sums() -> None:
    values = [1, 2, 3, 4, 5]
    mean, sd = stats.mean_sd(len(values), sum(values), sum(v * v for v in values))
    assert (mean, sd) == pytest.approx((3.0, 1.5811388300841898))
    lo, hi = stats.mean_ci(mean, sd, 5)
    assert (lo, hi) == pytest.approx((3 - 1.959963984540054 * sd / 5 ** 0.5, 3 + 1.959963984540054 * sd / 5 ** 0.5))
    assert stats.mean_sd(0, 0.0, 0.0) is None


@pytest.mark.parametrize(("importance", "satisfaction", "expected"), [
    (0.5, 0.2, 4.0),   # 5 * (0.5 + 0.3)
    (0.5, 0.9, 2.5),   # satisfied: importance only
    (1.0, 0.0, 10.0),  # the top of the scale
    (0.0, 0.0, 0.0),
])
def test_opportunity_is_ulwick_scaled_to_ten(importance: float, satisfaction: float, expected: float) -> None:
    assert opportunity(importance, satisfaction) == pytest.approx(expected)
    assert opportunity(None, 0.5) is None


def test_same_problem_by_keywords_or_label() -> None:
    assert same_problem({"keywords": ["crash", "export"]}, {"keywords": ["Export", "crash", "pdf"]})
    assert not same_problem({"keywords": ["login"], "label": "a"}, {"keywords": ["crash"], "label": "b"})
    assert same_problem({"label": "Dark mode "}, {"label": "dark mode"})
