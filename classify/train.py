"""Train the heads and calibrate the jobs scorer; writes classify/model/heads.npz and meta.json.

Rerunnable and seeded: ``python -m classify.train [--data DIR] [--encoder DIR] [--out DIR]``.
Embeddings of the training sets are cached under ``$VOXPOP_EMBED_CACHE`` (default
/tmp/voxpop_classify_cache) and reused. Held-out test splits (see ``classify/data.py``) are never read here.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from classify.data import (  # noqa: E402
    DEFAULT_DATA_DIR,
    SEED,
    VU_SENTIMENT,
    Rows,
    cached_embeddings,
    humanize_label,
    load_splits,
)
from classify.encoder import Encoder  # noqa: E402
from classify.heads import fit_mlp_head  # noqa: E402
from classify.jobs import JobCalibration, JobIndex  # noqa: E402
from classify.labels import NEED_TYPES, SENTIMENTS  # noqa: E402
from classify.sentences import compose_post  # noqa: E402

VERSION = "1"
OUT_DIR = Path(__file__).resolve().parent / "model"
# Share of the sentiment training weight per source (each source's rows share its weight equally).
SENTIMENT_SOURCES = {"tweet_train": 0.25, "uci_train": 0.15, "steam_train": 0.2, "vu_train": 0.25,
                     "own_sentiment": 0.15}
# "No job applies" must catch this share of out-of-scope train posts (CLINC150 oos).
OOS_RECALL_TARGET = 0.8
NEED_SOURCES = {"vu_train": 0.4, "tizard_train": 0.5, "own_need": 0.1}


def post_texts(name: str, rows: Rows) -> list[str]:
    """Texts as the classifier sees them (app reviews get their title first)."""
    if name.startswith("vu_") and rows.extra:
        return [compose_post(t, e.get("title")) for t, e in zip(rows.texts, rows.extra, strict=True)]
    return rows.texts


class Embedder:
    """Cached embeddings of named splits for one encoder."""

    def __init__(self, encoder: Encoder, splits: dict[str, Rows]) -> None:
        self.encoder, self.splits = encoder, splits
        self.tag = f"{encoder.name}:{encoder.digest}:{encoder.max_tokens}"

    def __call__(self, name: str, texts: list[str] | None = None) -> np.ndarray:
        if texts is None:
            texts = post_texts(name, self.splits[name])
        return cached_embeddings(self.encoder.encode, self.tag, name, texts)


def weighted(embed: Embedder, splits: dict[str, Rows], sources: dict[str, float],
             labels_of: dict[str, list[str | None]]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Stack sources into (X, labels, weights) with each source's total weight as given."""
    xs: list[np.ndarray] = []
    ys: list[str] = []
    ws: list[np.ndarray] = []
    for name, share in sources.items():
        if name not in splits:
            continue
        labels = labels_of.get(name, splits[name].labels)
        keep = [i for i, lab in enumerate(labels) if lab]
        X = embed(name)[keep]
        xs.append(X)
        ys.extend(labels[i] for i in keep)  # type: ignore[misc]
        ws.append(np.full(len(keep), share / max(len(keep), 1), dtype=np.float32))
    w = np.concatenate(ws)
    return np.vstack(xs), ys, w * (len(w) / w.sum())


def vu_need_labels(rows: Rows) -> list[str | None]:
    """Need labels of app reviews, with praise derived: Vu et al. file praise under "other", so an
    "other" review that its annotators marked positive or very positive is taken as praise."""
    out: list[str | None] = []
    for label, e in zip(rows.labels, rows.extra or [{}] * len(rows), strict=True):
        positive = (e or {}).get("sentiment") in ("positive", "very positive")
        out.append("praise" if label == "other" and positive else label)
    return out


def rating_ratio(rows: Rows) -> np.ndarray:
    """P(sentiment | stars) / P(sentiment) from app reviews with both (add-one smoothing), shape (5, 3)."""
    counts = np.ones((5, 3))
    for e in rows.extra or []:
        s, r = VU_SENTIMENT.get(e.get("sentiment") or ""), e.get("rating")
        if s and isinstance(r, int | float) and 1 <= r <= 5:
            counts[int(r) - 1, SENTIMENTS.index(s)] += 1
    cond = counts / counts.sum(1, keepdims=True)
    prior = counts.sum(0) / counts.sum()
    return (cond / prior).astype(np.float32)


def calibrate_jobs(embed: Embedder, splits: dict[str, Rows]) -> dict:
    """Thresholds for "no job applies" and the score temperature, from CLINC150 train (in-scope vs oos)."""
    support, calib = splits["clinc_support"], splits["clinc_calib"]
    intents = sorted(set(support.labels))
    S = embed("clinc_support")
    names = embed("clinc_names", [humanize_label(i) for i in intents])
    Q = embed("clinc_calib")
    y = np.asarray(calib.labels)
    lab = np.asarray(support.labels)
    base = JobCalibration()
    result: dict = {"nearest_weight": base.nearest_weight, "statement_weight": base.statement_weight,
                    "max_jobs": base.max_jobs}
    report: dict = {}
    margins: list[np.ndarray] = []
    corrects: list[np.ndarray] = []
    for mode in ("zero_shot", "few_shot"):
        vecs = [np.vstack([names[k:k + 1], S[lab == i]]) if mode == "few_shot" else names[k:k + 1]
                for k, i in enumerate(intents)]
        ix = JobIndex.from_vectors(intents, vecs, base)
        R = ix.raw_scores(Q)
        top, best = R.max(1), np.asarray(intents)[R.argmax(1)]
        inscope = y != "oos"
        right = inscope & (best == y)
        grid = np.round(np.arange(0.10, 0.95, 0.005), 3)
        # Smallest threshold whose oos recall reaches the target: keeps as many right answers as possible.
        oos_recall = np.array([((~inscope) & (top < t)).sum() / (~inscope).sum() for t in grid])
        thr = float(grid[np.argmax(oos_recall >= OOS_RECALL_TARGET)])
        result[f"{mode}_threshold"] = float(thr)
        report[mode] = {"threshold": thr, "oos_recall_target": OOS_RECALL_TARGET,
                        "inscope_accuracy_on_train": round(float((right & (top >= thr)).sum() / inscope.sum()), 4),
                        "oos_recall_on_train": round(float(((~inscope) & (top < thr)).sum() / (~inscope).sum()), 4)}
        margins.append(top - thr)
        corrects.append(right)
    m, c = np.concatenate(margins), np.concatenate(corrects)
    best_t, best_loss = 0.05, np.inf
    for t in np.arange(0.01, 0.2, 0.005):  # sigmoid(margin / T) as P(top job is right), by log loss
        p = np.clip(1 / (1 + np.exp(-m / t)), 1e-6, 1 - 1e-6)
        loss = -np.mean(c * np.log(p) + (~c) * np.log(1 - p))
        if loss < best_loss:
            best_t, best_loss = float(t), loss
    result["temperature"] = round(best_t, 3)
    report["temperature_log_loss"] = round(float(best_loss), 4)
    return {"calibration": result, "report": report}


def main(argv: list[str] | None = None) -> None:
    """Train and write the heads."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--encoder", default=None, help="local Hugging Face model dir (default: packaged MiniLM)")
    ap.add_argument("--out", default=None, help="output dir (default: classify/model, or <encoder>/voxpop_heads)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else (OUT_DIR if args.encoder is None else Path(args.encoder) / "voxpop_heads")
    t0 = time.time()
    splits = load_splits(Path(args.data))
    encoder = Encoder(args.encoder)
    embed = Embedder(encoder, splits)

    vu = splits["vu_train"]
    vu_sent = [VU_SENTIMENT.get((e or {}).get("sentiment") or "") for e in vu.extra or []]
    X, y, w = weighted(embed, splits, SENTIMENT_SOURCES, {"vu_train": vu_sent})
    sentiment = fit_mlp_head(X, y, SENTIMENTS, sample_weight=w, seed=SEED)
    print(f"sentiment head: {len(y)} rows {dict(Counter(y))}", flush=True)

    X, y, w = weighted(embed, splits, NEED_SOURCES, {"vu_train": vu_need_labels(vu)})
    need = fit_mlp_head(X, y, NEED_TYPES, sample_weight=w, seed=SEED)
    print(f"need head: {len(y)} rows {dict(Counter(y))}", flush=True)

    jobs = calibrate_jobs(embed, splits)
    print(f"jobs: {json.dumps(jobs['report'])}", flush=True)

    out.mkdir(parents=True, exist_ok=True)
    arrays = {**sentiment.to_arrays("sentiment"), **need.to_arrays("need"), "rating_ratio": rating_ratio(vu)}
    np.savez_compressed(out / "heads.npz", **arrays)  # type: ignore[arg-type]
    meta = {"version": VERSION, "encoder": encoder.name, "encoder_digest": encoder.digest,
            "encoder_dim": encoder.dim, "max_tokens": encoder.max_tokens, "seed": SEED,
            "jobs": jobs["calibration"], "jobs_calibration_report": jobs["report"],
            "sentiment_sources": SENTIMENT_SOURCES, "need_sources": NEED_SOURCES}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
