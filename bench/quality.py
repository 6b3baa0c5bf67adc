"""Quality of the packaged classifier on held-out test splits (prints each figure beside its goal and anchor).

    .venv/bin/python bench/quality.py [--data DIR] [--quick]

Splits come from ``classify/training/corpora.py``: held out by app or by source (never rows of one app on both sides),
or the source's own test split (Senti4SD, UMSAB). Settings were chosen on the dev splits by
``classify/training/train.py``; this script reads the test splits. Sentiment and need type run end to end through
``Classifier.predict``; jobs use the same ``JobIndex`` scoring on the classifier's embeddings.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from classify.hubness import background_vectors  # noqa: E402
from classify.jobs import JobIndex  # noqa: E402
from classify.pipeline import Classifier, Prediction  # noqa: E402
from classify.training.corpora import Example, load_corpora  # noqa: E402
from classify.training.data import DEFAULT_DATA_DIR, humanize_label, load_splits  # noqa: E402
from classify.training.metrics import f1_per_class, macro_f1, macro_recall  # noqa: E402
from classify.training.train import Embedder  # noqa: E402
from classify.training.tuning import fold  # noqa: E402

RESULTS: list[tuple[str, float, float | None]] = []


def show(name: str, value: float, goal: float | None = None, anchor: str = "", extra: str = "") -> None:
    """Print one figure line and remember it for the summary."""
    RESULTS.append((name, value, goal))
    mark = "" if goal is None else f"  goal >= {goal:.2f}: {'met' if value >= goal else 'NOT met'}"
    anchor = f"  (anchor {anchor})" if anchor else ""
    print(f"{name:<58} {value:.4f}{mark}{anchor}{extra}", flush=True)


def predict(clf: Classifier, rows: list[Example], *, with_rating: bool = True) -> list[Prediction]:
    """End-to-end predictions for examples (titles always, ratings when asked and present)."""
    return clf.predict([e.text for e in rows], titles=[e.title for e in rows],
                       ratings=[e.rating for e in rows] if with_rating else None)


def sample(rows: list[Example], n: int) -> list[Example]:
    """A seeded sample of at most n rows (bounded bench time on big test apps)."""
    rows = rows[:]
    random.Random(13).shuffle(rows)
    return rows[:n]


def per_class(values: dict[str, float]) -> str:
    return "  per class " + ", ".join(f"{k} {v:.3f}" for k, v in values.items())


def sentiment_section(clf: Classifier, c: dict[str, list[Example]], cap: int) -> None:
    print("== sentiment (end to end)")
    tw = sample(c["tweeteval_val"], cap)
    mr, per = macro_recall([e.label for e in tw], [p.sentiment for p in predict(clf, tw)])
    show(f"TweetEval validation macro recall (n={len(tw)})", mr, 0.72, "TimeLMs 0.737, RoBERTa-base 0.713",
         per_class(per))
    apps = sample(c["appstore_test"], cap)
    # The label is the stars, so the stars are NOT shown to the model here: text only.
    preds = predict(clf, apps, with_rating=False)
    f1 = f1_per_class([e.label for e in apps], [p.sentiment for p in preds], ["negative", "neutral", "positive"])
    show(f"App Store held-out app (Teams), 3 classes from stars, macro F1 (n={len(apps)})",
         float(np.mean(list(f1.values()))), 0.70, "", per_class(f1))
    show("App Store held-out app, neutral-class F1", f1["neutral"], 0.45)
    share = float(np.mean([p.sentiment == "neutral" for p in preds]))
    gold = float(np.mean([e.label == "neutral" for e in apps]))
    print(f"{'App Store held-out app, neutral share predicted / 3-star share':<58} {share:.4f} / {gold:.4f}  "
          f"(goal: within a few points; {100 * abs(share - gold):.1f} points apart; "
          f"mixed reviews {sum(p.mixed for p in preds)})", flush=True)
    st = sample(c["steam_test"], cap)
    preds = predict(clf, st)
    acc = float(np.mean([("positive" if p.sentiment_score >= 0 else "negative") == e.label
                         for p, e in zip(preds, st, strict=True)]))
    show(f"Steam held-out games accuracy, sign of score (n={len(st)})", acc, 0.85)
    s4 = sample(c["senti4sd_test"], cap)
    show(f"Senti4SD test split macro F1 (n={len(s4)})",
         macro_f1([e.label for e in s4], [p.sentiment for p in predict(clf, s4)]), 0.75, "Senti4SD 0.80 (paper)")
    vs = sample(c["vusent_test"], cap)
    preds = predict(clf, vs)
    show(f"Vu held-out apps, annotator sentiment, with stars, macro F1 (n={len(vs)})",
         macro_f1([e.label for e in vs], [p.sentiment for p in preds]))
    preds = predict(clf, vs, with_rating=False)
    show("Vu held-out apps, annotator sentiment, without stars, macro F1",
         macro_f1([e.label for e in vs], [p.sentiment for p in preds]))


def need_section(clf: Classifier, c: dict[str, list[Example]], cap: int) -> None:
    print("\n== need type (end to end, sentence rule included)")
    vu = sample(c["vu_test"], cap)
    classes = ("problem", "feature_request", "other")
    gold = [e.extra["vu_label"] for e in vu]  # the authors' three classes (praise folds into other)
    preds = [fold(p.need_type, classes) for p in predict(clf, vu)]
    f1 = f1_per_class(gold, preds, classes)
    show(f"Vu 2017 held-out apps (Waze, WhatsApp) macro F1, 3 classes (n={len(vu)})",
         float(np.mean(list(f1.values()))), 0.82, "", per_class(f1))
    clap = sample(c["clap_test"], cap)
    classes = ("problem", "feature_request", "other")
    preds = [fold(p.need_type, classes) for p in predict(clf, clap)]
    f1 = f1_per_class([e.label for e in clap], preds, classes)
    show(f"CLAP held-out apps problem F1 (n={len(clap)})", f1["problem"], 0.88, "CLAP bug 0.88 (paper)")
    show("CLAP held-out apps feature F1", f1["feature_request"], 0.75, "CLAP feature 0.79 (paper)")
    tz = sample(c["tizard_test"], cap)
    classes = ("problem", "feature_request", "question", "other")
    preds = [fold(p.need_type, classes) for p in predict(clf, tz)]
    f1 = f1_per_class([fold(e.label, classes) for e in tz], preds, classes)
    show(f"Tizard held-out forum (Firefox) macro F1, 4 classes (n={len(tz)})", float(np.mean(list(f1.values()))),
         0.60, "", per_class(f1))


def multilingual_section(clf: Classifier, c: dict[str, list[Example]], cap: int) -> None:
    print("\n== multilingual sentiment (UMSAB test split)")
    rows = c["umsab_test"]
    for lang in ("de", "es", "fr", "it", "pt"):
        part = sample([e for e in rows if e.lang == lang], cap)
        # Language is known here; routing is measured separately (a tweet misread as another language would be
        # a placeholder, counted as wrong below).
        preds = predict(clf, part)
        unrouted = sum(1 for p in preds if not p.classified)
        show(f"UMSAB {lang} macro F1 (n={len(part)}, {unrouted} not classified)",
             macro_f1([e.label for e in part], [p.sentiment for p in preds]), 0.60, "XLM-T ~0.6-0.7")


def multilingual_need_section(clf: Classifier, data: Path) -> None:
    print("\n== multilingual need type (hand-labelled set, test split; classify/training/multilingual_set.py)")
    from classify import multilingual_need
    from classify.labels import NEED_TYPES
    from classify.training.multilingual_set import labels_path, load_need_rows

    if not labels_path().exists():
        print(f"(not present: {labels_path()}; set VOXPOP_NEED_LABELS)")
        return
    test = [r for r in load_need_rows(data) if r.split == "test"]
    gold = [r.need for r in test]

    def run() -> list[str]:
        return [p.need_type for p in clf.predict([r.text for r in test], titles=[r.title for r in test],
                                                 ratings=[r.rating for r in test], languages=[r.lang for r in test])]

    pred = run()
    f1 = f1_per_class(gold, pred, NEED_TYPES)
    show(f"de/es/fr/it/pt need type macro F1, 5 classes (n={len(test)})", float(np.mean(list(f1.values()))), 0.70,
         "", per_class(f1))
    for lang in ("de", "es", "fr", "it", "pt"):
        idx = [i for i, r in enumerate(test) if r.lang == lang]
        classes = sorted({gold[i] for i in idx})
        show(f"  {lang} need type macro F1 over its {len(classes)} gold classes (n={len(idx)})",
             float(np.mean(list(f1_per_class([gold[i] for i in idx], [pred[i] for i in idx], classes).values()))))
    saved, saved_p = clf.need_multilingual, multilingual_need.CUE_P
    clf.need_multilingual, multilingual_need.CUE_P = None, 0.0
    try:
        bare = run()
    finally:
        clf.need_multilingual, multilingual_need.CUE_P = saved, saved_p
    show("  same, English need head alone (no adjustment, no cue words)",
         float(np.mean(list(f1_per_class(gold, bare, NEED_TYPES).values()))))


def own_section(clf: Classifier, c: dict[str, list[Example]]) -> None:
    print("\n== our own written review set (classify/data/voxpop_review_testset.jsonl)")
    rows = [e for e in c.get("owntest_test", []) if e.task == "sentiment"]
    if not rows:
        print("(not present)")
        return
    preds = predict(clf, rows)
    complaints = [(p, e) for p, e in zip(preds, rows, strict=True)
                  if e.extra.get("category") == "complaint" and e.extra.get("unambiguous")]
    show(f"unambiguous complaints read as negative (n={len(complaints)})",
         float(np.mean([p.sentiment == "negative" for p, _ in complaints])), 0.95)
    praise = [(p, e) for p, e in zip(preds, rows, strict=True) if e.extra.get("need_type") == "praise"]
    show(f"praise posts NOT read as unmet need (n={len(praise)})",
         float(np.mean([not p.unmet_need for p, _ in praise])), 1.0)
    show("praise posts read as praise", float(np.mean([p.need_type == "praise" for p, _ in praise])))
    show(f"all posts sentiment accuracy (n={len(rows)})", float(np.mean([p.sentiment == e.label for p, e in
                                                                          zip(preds, rows, strict=True)])))
    show("all posts need-type accuracy", float(np.mean([p.need_type == e.extra["need_type"] for p, e in
                                                        zip(preds, rows, strict=True)])))
    from classify.evidence import carries_point

    unmet = [p for p in preds if p.unmet_need]
    print(f"{'unmet-need posts whose evidence names its object (proxy)':<58} "
          f"{float(np.mean([carries_point(p.evidence) for p in unmet])):.4f}  (n={len(unmet)}; a content-word "
          "check, not a reader's label: the >= 0.90 goal needs hand labels)", flush=True)
    foreign = [(p, e) for p, e in zip(preds, rows, strict=True) if e.lang != "en"]
    show(f"non-English posts: language routed right (n={len(foreign)})",
         float(np.mean([p.language == e.lang for p, e in foreign])))
    show("non-English posts: sentiment accuracy", float(np.mean([p.sentiment == e.label for p, e in foreign])))


def jobs_section(clf: Classifier, data: Path) -> None:
    print("\n== jobs (10-shot prototypes; 'none' threshold calibrated on CLINC150 train)")
    splits = load_splits(data)
    embed = Embedder(clf.encoder, splits)

    def scores(prefix: str, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        support = splits[f"{prefix}_support"]
        intents = sorted(set(support.labels))
        S, lab = embed(f"{prefix}_support"), np.asarray(support.labels)
        names = embed(f"{prefix}_names", [humanize_label(i) for i in intents])
        background = background_vectors(clf.embed)  # the hub correction, as products' jobs get it
        few = JobIndex.from_vectors(intents, [np.vstack([names[k:k + 1], S[lab == i]])
                                              for k, i in enumerate(intents)], clf.job_calibration, background)
        zero = JobIndex.from_vectors(intents, [names[k:k + 1] for k in range(len(intents))], clf.job_calibration,
                                     background)
        Q = embed(query)
        return np.asarray(intents), few.calibrated(Q), zero.calibrated(Q)

    intents, few, zero = scores("bank", "bank_query")
    y = np.asarray(splits["bank_query"].labels)
    show(f"BANKING77 10-shot accuracy, top-1 (n={len(y)})", float((intents[few.argmax(1)] == y).mean()), 0.86,
         "89.8 fine-tuned; frozen MiniLM 0.831")
    show("BANKING77 zero-shot accuracy (intent name as statement)", float((intents[zero.argmax(1)] == y).mean()))
    intents, few, zero = scores("clinc", "clinc_val")
    y = np.asarray(splits["clinc_val"].labels)
    ins = y != "oos"
    best = np.where(few.max(1) >= 0.5, intents[few.argmax(1)], "oos")
    show(f"CLINC150 val in-scope accuracy, 10-shot (n={int(ins.sum())})", float((best[ins] == y[ins]).mean()), 0.93,
         "94.8")
    show(f"CLINC150 val oos recall, 10-shot (n={int((~ins).sum())})", float((best[~ins] == "oos").mean()), 0.75)


def main() -> None:
    """Run all quality figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--quick", action="store_true", help="at most 400 rows per test set")
    ap.add_argument("--model", default=None,
                    help="a model folder written by classify.training.train --out (default: packaged)")
    ap.add_argument("--only", default="", help="comma list of sections: sentiment,need,multilingual,own,jobs")
    args = ap.parse_args()
    t0 = time.time()
    cap = 400 if args.quick else 2000
    corpora = load_corpora(Path(args.data))
    clf = Classifier(heads_dir=args.model) if args.model else Classifier()
    print(f"model_version {clf.model_version}\n")
    sections = set(filter(None, args.only.split(","))) or {"sentiment", "need", "multilingual", "own", "jobs"}
    if "sentiment" in sections:
        sentiment_section(clf, corpora, cap)
    if "need" in sections:
        need_section(clf, corpora, cap)
    if "multilingual" in sections:
        multilingual_section(clf, corpora, cap // 2)
    if "multilingual" in sections:
        multilingual_need_section(clf, Path(args.data))
    if "own" in sections:
        own_section(clf, corpora)
    if "jobs" in sections:
        jobs_section(clf, Path(args.data))
    goals = [(n, v, g) for n, v, g in RESULTS if g is not None]
    met = sum(1 for _, v, g in goals if v >= g)
    print(f"\n{met} of {len(goals)} goals met (done in {time.time() - t0:.0f}s)")


if __name__ == "__main__":
    main()
