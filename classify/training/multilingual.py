"""Fit the need-type adjustment for de/es/fr/it/pt posts (``classify/multilingual_need.py``) on the dev split.

    VOXPOP_NEED_LABELS=... .venv/bin/python -m classify.training.multilingual [--data DIR] [--out DIR]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from classify.adapt import ResidualHead, fit_residual
from classify.labels import NEED_TYPES
from classify.multilingual_need import FILE

L2, BIAS_L2 = 1e-4, 0.002  # chosen by 5-fold cross-validation on the dev split (grid in the model card)


def fit(vecs: np.ndarray, need_p: np.ndarray, labels: Sequence[str]) -> ResidualHead:
    """The adjustment from labelled post vectors and the need head's probabilities of them."""
    return fit_residual(vecs, need_p, list(labels), NEED_TYPES, l2=L2, bias_l2=BIAS_L2, knn_weight=0.0, local=False)


def save(head: ResidualHead, folder: Path) -> Path:
    """Write the adjustment (W, b, classes) beside the heads."""
    path = folder / FILE
    np.savez_compressed(path, W=head.W, b=head.b, classes=np.asarray(head.classes))
    return path


def main() -> None:
    """Fit the adjustment on the dev split of the multilingual need set and write it beside the packaged heads."""
    import argparse

    from classify.pipeline import PACKAGED_HEADS, Classifier
    from classify.training.data import DEFAULT_DATA_DIR
    from classify.training.multilingual_set import load_need_rows

    ap = argparse.ArgumentParser(description="fit the multilingual need adjustment (dev split)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    ap.add_argument("--out", type=Path, default=PACKAGED_HEADS)
    args = ap.parse_args()
    dev = [r for r in load_need_rows(args.data) if r.split == "dev"]
    clf = Classifier()
    scored = clf.score([r.text for r in dev], titles=[r.title for r in dev], ratings=[r.rating for r in dev])
    head = fit(scored.post_vecs, scored.need_post, [r.need for r in dev])
    print(f"fitted on {len(dev)} dev rows; wrote {save(head, args.out)}")


if __name__ == "__main__":
    main()
