"""Quality of the packaged classifier on held-out splits of /work/shared/data (prints figures).

    .venv/bin/python bench/quality.py [--data DIR] [--quick]

Sentiment and need type run end to end through ``Classifier.predict`` (with titles and ratings where
the data has them, sentence-level aggregation included); jobs use the same ``JobIndex`` scoring on
cached embeddings. Splits are the fixed, seeded ones of ``classify/data.py``; test rows are never trained on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from classify.data import DEFAULT_DATA_DIR, humanize_label, load_splits  # noqa: E402
from classify.jobs import JobIndex  # noqa: E402
from classify.pipeline import Classifier  # noqa: E402
from classify.train import Embedder  # noqa: E402


def f1_table(gold: list[str], pred: list[str], classes: list[str]) -> dict[str, float]:
    """Per-class F1 for the classes present in gold."""
    out = {}
    g, p = np.asarray(gold), np.asarray(pred)
    for c in classes:
        tp = float(((g == c) & (p == c)).sum())
        prec = tp / max((p == c).sum(), 1)
        rec = tp / max((g == c).sum(), 1)
        out[c] = 0.0 if tp == 0 else 2 * prec * rec / (prec + rec)
    return out


def macro_recall(gold: list[str], pred: list[str]) -> tuple[float, dict[str, float]]:
    """Mean of per-class recalls."""
    g, p = np.asarray(gold), np.asarray(pred)
    per = {c: float((p[g == c] == c).mean()) for c in sorted(set(gold))}
    return float(np.mean(list(per.values()))), per


def show(name: str, value: float, goal: float | None = None, extra: str = "") -> None:
    """Print one figure line."""
    mark = "" if goal is None else (f"  (goal >= {goal:.2f}: {'met' if value >= goal else 'NOT met'})")
    print(f"{name:<48} {value:.4f}{mark}{extra}", flush=True)


def jobs_bench(embed: Embedder, splits: dict, clf: Classifier, prefix: str, query: str) -> tuple[np.ndarray, ...]:
    """Raw and calibrated job scores of the query split against 10-shot and zero-shot indexes."""
    support = splits[f"{prefix}_support"]
    intents = sorted(set(support.labels))
    S = embed(f"{prefix}_support")
    names = embed(f"{prefix}_names", [humanize_label(i) for i in intents])
    lab = np.asarray(support.labels)
    few = JobIndex.from_vectors(intents, [np.vstack([names[k:k + 1], S[lab == i]]) for k, i in enumerate(intents)],
                                clf.job_calibration)
    zero = JobIndex.from_vectors(intents, [names[k:k + 1] for k in range(len(intents))], clf.job_calibration)
    Q = embed(query)
    return np.asarray(intents), few.calibrated(Q), zero.calibrated(Q)


def main() -> None:
    """Run all quality figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    args = ap.parse_args()
    t0 = time.time()
    splits = load_splits(Path(args.data))
    clf = Classifier()
    embed = Embedder(clf.encoder, splits)
    print(f"model_version {clf.model_version}\n")

    print("== sentiment (end to end)")
    tw = splits["tweet_test"]
    preds = clf.predict(tw.texts)
    mr, per = macro_recall(tw.labels, [p.sentiment for p in preds])
    show(f"TweetEval held-out macro-recall (n={len(tw)})", mr, 0.70,
         "  per class " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()))
    st = splits["steam_test"]
    preds = clf.predict(st.texts)
    signs = ["positive" if p.sentiment_score >= 0 else "negative" for p in preds]
    acc = float(np.mean([s == g for s, g in zip(signs, st.labels, strict=True)]))
    show(f"Steam held-out accuracy, sign of score (n={len(st)})", acc, 0.70)
    acc3 = float(np.mean([p.sentiment == g for p, g in zip(preds, st.labels, strict=True)]))
    show("Steam held-out accuracy, 3-way label (neutral = wrong)", acc3)

    print("\n== need type (end to end)")
    vu = splits["vu_test"]
    titles = [e.get("title") for e in vu.extra]
    ratings = [e.get("rating") for e in vu.extra]
    preds = clf.predict(vu.texts, titles=titles, ratings=ratings)
    # Vu et al. label praise, questions and noise all as "other": fold ours into it for scoring.
    fold = {"praise": "other", "question": "other"}
    pv = [fold.get(p.need_type, p.need_type) for p in preds]
    classes = ["problem", "feature_request", "other"]
    f1 = f1_table(vu.labels, pv, classes)
    show(f"App reviews held-out macro-F1, 3 classes (n={len(vu)})", float(np.mean(list(f1.values()))), 0.75,
         "  per class " + ", ".join(f"{k} {v:.3f}" for k, v in f1.items()))
    unmet_gold = [g in ("problem", "feature_request") for g in vu.labels]
    show("App reviews held-out unmet-need accuracy", float(np.mean([p.unmet_need == g for p, g in
                                                                    zip(preds, unmet_gold, strict=True)])))
    sent_gold = [e.get("sentiment") for e in vu.extra]
    tz = splits["tizard_test"]
    preds = clf.predict(tz.texts)
    classes = ["problem", "feature_request", "question", "praise", "other"]
    f1 = f1_table(tz.labels, [p.need_type for p in preds], classes)
    show(f"Forum sentences held-out macro-F1, 5 classes (n={len(tz)})", float(np.mean(list(f1.values()))), 0.75,
         "  per class " + ", ".join(f"{k} {v:.3f}" for k, v in f1.items()))
    f1_4 = {k: v for k, v in f1.items() if k != "praise"}
    show("Forum sentences macro-F1 without praise (5 test rows)", float(np.mean(list(f1_4.values()))))
    del sent_gold

    print("\n== jobs (10-shot prototypes; 'none' threshold calibrated on CLINC150 train)")
    intents, few, zero = jobs_bench(embed, splits, clf, "bank", "bank_query")
    y = np.asarray(splits["bank_query"].labels)
    show(f"BANKING77 10-shot accuracy, top-1 (n={len(y)})", float((intents[few.argmax(1)] == y).mean()), 0.88)
    show("BANKING77 zero-shot accuracy (intent name as statement)", float((intents[zero.argmax(1)] == y).mean()))
    intents, few, zero = jobs_bench(embed, splits, clf, "clinc", "clinc_val")
    y = np.asarray(splits["clinc_val"].labels)
    ins = y != "oos"
    for label, S in (("10-shot", few), ("zero-shot", zero)):
        top = S.max(1)
        best = np.where(top >= 0.5, intents[S.argmax(1)], "oos")
        goal_in, goal_oos = (0.93, 0.70) if label == "10-shot" else (None, None)
        top1 = intents[S.argmax(1)]
        show(f"CLINC150 val in-scope accuracy, {label} (n={int(ins.sum())})", float((best[ins] == y[ins]).mean()),
             goal_in)
        show(f"CLINC150 val oos recall, {label} (n={int((~ins).sum())})", float((best[~ins] == "oos").mean()),
             goal_oos)
        show(f"CLINC150 val in-scope top-1 ignoring 'none', {label}", float((top1[ins] == y[ins]).mean()))
    print(f"\n(done in {time.time() - t0:.0f}s)")


if __name__ == "__main__":
    main()
