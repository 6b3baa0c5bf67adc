"""Dev-split tuning of the decision rules: the need type's sentence rule and the neutral bias (never on test splits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classify.labels import NEED_TYPES, SENTIMENTS
from classify.pipeline import Classifier, need_from_sentences, with_neutral_bias
from classify.training.corpora import Example
from classify.training.metrics import macro_f1

UNMET_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
# Dev sets of need type, and the classes each source's scheme can tell apart (ours fold into "other").
NEED_DEV = {"vu_dev": ("problem", "feature_request", "praise", "other"),
            "clap_dev": ("problem", "feature_request", "other"),
            "tizard_dev": ("problem", "feature_request", "question", "other")}


def fold(label: str, classes: tuple[str, ...]) -> str:
    """A predicted label in a source's scheme: a class the source does not have counts as ``other``."""
    return label if label in classes else "other"


def tune_sentence_rule(corpora: dict[str, list[Example]], model_dir: Path) -> dict[str, float]:
    """The ``unmet_weight`` with the best mean macro-F1 over the need dev splits; prints the grid."""
    clf = Classifier(heads_dir=model_dir)
    scored = {}
    for name in NEED_DEV:
        rows = corpora[name]
        scored[name] = (rows, clf.score([e.text for e in rows], titles=[e.title for e in rows],
                                        ratings=[e.rating for e in rows]))
    best_weight, best = 1.0, -1.0
    for weight in UNMET_WEIGHTS:
        rule = {"unmet_weight": weight}
        scores = []
        for name, classes in NEED_DEV.items():
            rows, s = scored[name]
            pred = [fold(NEED_TYPES[need_from_sentences(s.need_post[i], s.need_sentences[i], rule)[1]], classes)
                    for i in range(len(rows))]
            scores.append(macro_f1([e.label for e in rows], pred, classes))
        mean = float(np.mean(scores))
        print(f"sentence rule unmet_weight {weight}: dev macro-F1 {mean:.4f} "
              + " ".join(f"{n} {v:.3f}" for n, v in zip(NEED_DEV, scores, strict=True)), flush=True)
        if mean > best:
            best_weight, best = weight, mean
    return {"unmet_weight": best_weight}


NEUTRAL_BIASES = tuple(round(b, 2) for b in np.arange(-1.0, 0.51, 0.1))
SENTIMENT_DEV = ("appstore_dev", "steam_dev", "senti4sd_dev", "umsab_dev", "vusent_dev")


def tune_neutral_bias(corpora: dict[str, list[Example]], model_dir: Path) -> float:
    """The neutral log-odds bias with the best mean sentiment macro-F1 over the dev splits; prints the grid.

    Three-way heads trained on tweets call many plain complaints "neutral" by a small margin; the dev
    splits (reviews with and without stars, forum posts, tweets in five languages) decide how much to
    lean away from it. Rows keep their rating as input where the source shows one.
    """
    clf = Classifier(heads_dir=model_dir)
    clf.neutral_bias = 0.0
    dev = {}
    for name in SENTIMENT_DEV:
        rows = corpora[name]
        scored = clf.score([e.text for e in rows], titles=[e.title for e in rows], ratings=[e.rating for e in rows])
        dev[name] = ([e.label for e in rows], scored.sentiment)
    best_bias, best = 0.0, -1.0
    for bias in NEUTRAL_BIASES:
        scores = [macro_f1(gold, [SENTIMENTS[k] for k in with_neutral_bias(p, bias).argmax(1)])
                  for gold, p in dev.values()]
        mean = float(np.mean(scores))
        print(f"neutral bias {bias:+.1f}: dev macro-F1 {mean:.4f} "
              + " ".join(f"{n} {v:.3f}" for n, v in zip(dev, scores, strict=True)), flush=True)
        if mean > best + 1e-9:
            best_bias, best = bias, mean
    return best_bias


MIXED_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.01)
MIXED_DEV = ("appstore_dev", "vusent_dev")


def tune_sentiment_rule(corpora: dict[str, list[Example]], clf: Classifier) -> dict[str, float]:
    """The mixed-review threshold with the best mean sentiment macro-F1 over review dev splits; prints the grid.

    App Store dev (TestFlight, text only: the stars are the label) and Vu dev (annotator sentiment, stars shown).
    Each line also gives the predicted neutral share against the gold neutral share (3 stars on the App Store).
    """
    from classify.pipeline import post_sentiment

    dev = {}
    for name in MIXED_DEV:
        rows = corpora[name]
        ratings = [e.rating for e in rows]
        scored = clf.score([e.text for e in rows], titles=[e.title for e in rows], ratings=ratings)
        needs = [NEED_TYPES[need_from_sentences(scored.need_post[i], scored.need_sentences[i], clf.sentence_rule,
                                                None, scored.sentiment_sentences[i],
                                                clf.sentiment_rule["mixed_threshold"])[1]]
                 for i in range(len(rows))]
        dev[name] = (rows, ratings, scored, needs)
    best = -1.0
    means: dict[float, float] = {}
    for t in MIXED_THRESHOLDS:
        rule = {"mixed_threshold": t}
        scores, shares = [], []
        for rows, ratings, s, needs in dev.values():
            pred = [SENTIMENTS[post_sentiment(s.sentiment[i], s.sentiment_body[i], s.sentiment_sentences[i],
                                              ratings[i], needs[i], rule)[1]] for i in range(len(rows))]
            scores.append(macro_f1([e.label for e in rows], pred))
            shares.append((pred.count("neutral") / len(pred), [e.label for e in rows].count("neutral") / len(rows)))
        mean = means[t] = float(np.mean(scores))
        print(f"mixed threshold {t}: dev macro-F1 {mean:.4f} " + " ".join(
            f"{n} {v:.3f} (neutral {a:.3f} vs gold {b:.3f})" for n, v, (a, b) in zip(dev, scores, shares, strict=True)),
              flush=True)
        best = max(best, mean)
    # Within 0.001 of the best, the highest threshold: the fewest posts moved for the same dev figure.
    return {"mixed_threshold": max(t for t, m in means.items() if m >= best - 0.001)}
