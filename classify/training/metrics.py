"""Small, dependency-free classification metrics shared by tuning and the quality bench."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def f1_per_class(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """F1 of each class (0.0 for a class never predicted right)."""
    g, p = np.asarray(gold), np.asarray(pred)
    out = {}
    for c in classes:
        tp = float(((g == c) & (p == c)).sum())
        precision = tp / max(int((p == c).sum()), 1)
        recall = tp / max(int((g == c).sum()), 1)
        out[c] = 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str] | None = None) -> float:
    """Mean F1 over ``classes`` (default: the classes present in gold)."""
    classes = sorted(set(gold)) if classes is None else classes
    return float(np.mean(list(f1_per_class(gold, pred, classes).values())))


def macro_recall(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, dict[str, float]]:
    """Mean of per-class recalls over the classes present in gold, and the per-class values."""
    g, p = np.asarray(gold), np.asarray(pred)
    per = {c: float((p[g == c] == c).mean()) for c in sorted(set(gold))}
    return float(np.mean(list(per.values()))), per
