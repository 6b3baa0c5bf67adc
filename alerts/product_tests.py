"""Product-level tests over a product's daily totals: volume spikes, rating drops, sentiment drops.

Pure: the detector (``alerts.detect``) keeps the totals and calls :func:`product_events` each day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from alerts.stats import binom_sf, norm_sf

PRODUCT_KINDS = ("volume_spike", "rating_drop", "sentiment_drop")
PSEUDO_COUNT = 0.5


@dataclass
class DayTotals:
    """One day of a product's posts: count, rating sums, negative count, classified count."""

    n: int = 0
    rating_sum: float = 0.0
    rating_sq: float = 0.0
    rating_n: int = 0
    negative: int = 0
    classified: int = 0

    def as_list(self) -> list[float]:
        return [self.n, self.rating_sum, self.rating_sq, self.rating_n, self.negative, self.classified]

    @classmethod
    def from_list(cls, values: Sequence[float]) -> DayTotals:
        n, rs, rq, rn, neg, cl = (list(values) + [0] * 6)[:6]
        return cls(int(n), float(rs), float(rq), int(rn), int(neg), int(cl))


def sum_days(totals: Mapping[str, DayTotals], days: Sequence[str]) -> DayTotals:
    """The totals of the given days added up (days with no posts count as zero)."""
    out = DayTotals()
    for d in days:
        t = totals.get(d)
        if t is None:
            continue
        out.n += t.n
        out.rating_sum += t.rating_sum
        out.rating_sq += t.rating_sq
        out.rating_n += t.rating_n
        out.negative += t.negative
        out.classified += t.classified
    return out


def totals_to_json(totals: Mapping[str, DayTotals]) -> dict[str, list[float]]:
    """Daily totals as JSON-able lists."""
    return {d: t.as_list() for d, t in sorted(totals.items())}


def totals_from_json(data: Mapping[str, Sequence[float]] | None) -> dict[str, DayTotals]:
    """Inverse of :func:`totals_to_json`."""
    return {d: DayTotals.from_list(v) for d, v in (data or {}).items()}


def product_events(p: Any, totals: Mapping[str, DayTotals], now: datetime, tw: DayTotals, tb: DayTotals,
                   baseline: Sequence[str], last: MutableMapping[str, str],
                   alpha: float) -> list[tuple[str, dict[str, Any]]]:
    """The product-level alerts of a day as ``(kind, figures)``: the window ``tw`` against the baseline
    days ``tb`` (``baseline`` names them), each kind at most once per cool-down (``last``: kind -> the
    time it last fired), at significance ``alpha``. ``p``: the detector's ``Params``."""
    if tw.n < p.min_volume:
        return []
    out: list[tuple[str, dict[str, Any]]] = []

    def fire(kind: str, figures: dict[str, Any]) -> None:
        prev = last.get(kind)
        if prev and now - datetime.fromisoformat(prev) < timedelta(days=p.cooldown_days):
            return
        out.append((kind, figures))

    days_b = [d for d in baseline if d in totals]
    n_days_b = max(1, len(days_b))
    mean_b = tb.n / n_days_b
    expected = mean_b * p.window_days
    counts = [totals[d].n for d in days_b]
    var_b = float(np.var(counts, ddof=1)) if len(counts) > 1 else mean_b
    dispersion = max(1.0, var_b / mean_b) if mean_b > 0 else 1.0
    if expected > 0:
        z = (tw.n - expected) / math.sqrt(expected * dispersion * p.window_days)
        pv = norm_sf(z)
        if pv < alpha and tw.n >= p.volume_ratio * expected:
            fire("volume_spike", {"count": tw.n, "expected": round(expected, 2), "ratio": round(tw.n / expected, 2),
                                  "dispersion": round(dispersion, 2), "p_value": pv})
    if tw.rating_n >= p.min_volume // 2 and tb.rating_n >= 10:
        m1, m0 = tw.rating_sum / tw.rating_n, tb.rating_sum / tb.rating_n
        v1 = max(0.0, tw.rating_sq / tw.rating_n - m1 * m1) * tw.rating_n / max(1, tw.rating_n - 1)
        v0 = max(0.0, tb.rating_sq / tb.rating_n - m0 * m0) * tb.rating_n / max(1, tb.rating_n - 1)
        se = math.sqrt(v1 / tw.rating_n + v0 / tb.rating_n) or 1e-9
        pv = norm_sf((m0 - m1) / se)
        if pv < alpha and m0 - m1 >= p.rating_drop:
            fire("rating_drop", {"mean": round(m1, 3), "baseline_mean": round(m0, 3), "n": tw.rating_n,
                                 "baseline_n": tb.rating_n, "p_value": pv})
    if tw.classified >= p.min_volume and tb.classified >= 10:
        share0 = (tb.negative + PSEUDO_COUNT) / (tb.classified + 1.0)
        share = tw.negative / tw.classified
        pv = binom_sf(tw.negative, tw.classified, share0)
        if pv < alpha and share - share0 >= p.sentiment_drop:
            fire("sentiment_drop", {"negative_share": round(share, 4), "baseline_share": round(share0, 4),
                                    "count": tw.negative, "n": tw.classified, "p_value": pv})
    return out
