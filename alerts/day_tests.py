"""The day-window test of one issue, and the family decision both test families share.

:func:`day_test`: an issue's share of the product's posts in the window (the last ``window_days``)
against its share in the ``baseline_days`` before it, by the binomial upper tail. The baseline share is
smoothed with half a pseudo-post so a brand-new topic is tested against a small but non-zero share.

:func:`discoveries`: which tests of one family (the day's day tests, or one release look's release
tests from ``alerts.release_tests``) are discoveries: Benjamini-Hochberg at ``fdr`` across the family,
then the significance cut and the volume floor. Pure: no clock, no store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from alerts.clustering import Cluster
from alerts.params import Params
from alerts.stats import benjamini_hochberg, binom_sf

PSEUDO_COUNT = 0.5


def day_range(end: date, days: int) -> list[str]:
    """The ``days`` day keys ending with ``end`` (inclusive), oldest first."""
    return [(end - timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]


def day_test(cluster: Cluster, x: int, n: int, baseline: Sequence[str], n0: int, p: Params) -> dict[str, Any]:
    """The figures of an issue's day test: ``x`` of the window's ``n`` posts against its baseline days.

    Args:
        cluster: the issue (its posts per day give the baseline count).
        x: the issue's posts in the window.
        n: the product's posts in the window (at least ``x``).
        baseline: the baseline's day keys.
        n0: the product's posts in the baseline.
        p: the settings (window and baseline lengths, ``fdr``, carried in the figures).
    """
    x0 = cluster.count(baseline)
    share0 = (x0 + PSEUDO_COUNT) / (n0 + 1.0)
    n = max(n, x)
    return {"scope": "day", "count": x, "total": n, "baseline_count": x0, "baseline_total": n0,
            "baseline_share": round(share0, 6), "share": round(x / n, 6) if n else 0.0,
            "expected": round(share0 * n, 3), "p_value": binom_sf(x, n, share0),
            "window_days": p.window_days, "baseline_days": p.baseline_days, "fdr": p.fdr}


def discoveries(tests: Mapping[int, dict[str, Any]], alpha: float, fdr: float, min_count: int) -> set[int]:
    """Keys whose test is a discovery: BH at ``fdr`` over the family, then ``alpha`` and ``min_count``.

    Marks each test in place with ``tested`` (the family's size) and ``significant``.
    """
    keys = list(tests)
    flags = benjamini_hochberg([tests[k]["p_value"] for k in keys], fdr)
    out = set()
    for k, flag in zip(keys, flags, strict=True):
        t = tests[k]
        t["tested"] = len(keys)
        t["significant"] = bool(flag and t["p_value"] < alpha and t["count"] >= min_count)
        if t["significant"]:
            out.add(k)
    return out
