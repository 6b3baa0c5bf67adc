"""Training and evaluation sets from ../shared/data: loading, fixed seeded splits, cached embeddings.

Used by ``classify/training/train.py`` and ``bench/quality.py`` only; nothing here runs at prediction time.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classify.sentences import split_sentences

SEED = 13
# The shared data sits beside the checkout (``../shared/data``); VOXPOP_DATA_DIR or ``--data`` point elsewhere.
DEFAULT_DATA_DIR = Path(os.environ.get("VOXPOP_DATA_DIR",
                                       Path(__file__).resolve().parents[3] / "shared" / "data"))
CACHE_DIR = Path(os.environ.get("VOXPOP_EMBED_CACHE", "/tmp/voxpop_classify_cache"))
OWN_EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "voxpop_own_examples.jsonl"

# Vu et al. 2017 review labels -> our need types ("noise" is uninformative text).
VU_NEED = {"bug_report": "problem", "feature_request": "feature_request", "other": "other", "noise": "other"}
# Tizard et al. 2019 coarse labels -> our need types ("complaint" is a problem voiced without detail).
TIZARD_NEED = {"problem": "problem", "complaint": "problem", "feature_request": "feature_request",
               "question": "question", "praise": "praise", "other": "other"}
VU_SENTIMENT = {"very negative": "negative", "negative": "negative", "neutral": "neutral",
                "positive": "positive", "very positive": "positive"}
STEAM_SENTIMENT = {"recommended": "positive", "not_recommended": "negative"}


@dataclass
class Rows:
    """Texts with labels (and optional extras) of one split."""

    texts: list[str]
    labels: list[str]
    extra: list[dict] | None = None

    def __len__(self) -> int:
        return len(self.texts)


def read_jsonl(path: Path) -> list[dict]:
    """All JSON objects of a JSON-lines file."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def dedupe_by_text(rows: Iterable[dict], min_chars: int = 1) -> list[dict]:
    """Rows whose stripped text has at least ``min_chars`` characters, the first of each text
    (compared case- and whitespace-insensitively)."""
    seen: set[str] = set()
    out = []
    for row in rows:
        text = (row.get("text") or "").strip()
        key = " ".join(text.lower().split())
        if len(text) < min_chars or key in seen:
            continue
        seen.add(key)
        out.append(row)
    return out


def _stratified_split(rows: list[dict], key: Callable[[dict], str], test_share: float,
                      seed: int = SEED) -> tuple[list[dict], list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    rng = random.Random(seed)
    train, test = [], []
    for label in sorted(groups):
        members = groups[label][:]
        rng.shuffle(members)
        cut = int(round(len(members) * test_share))
        test.extend(members[:cut])
        train.extend(members[cut:])
    return train, test


def _rows(rows: list[dict], label: Callable[[dict], str], keep: Sequence[str] = ()) -> Rows:
    return Rows([r["text"].strip() for r in rows], [label(r) for r in rows],
                [{k: r.get(k) for k in keep} for r in rows] if keep else None)


def load_splits(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, Rows]:
    """Every split used to train and measure the heads; fixed by ``SEED``. Test splits are never trained on."""
    d = Path(data_dir)
    s: dict[str, Rows] = {}

    tweets = dedupe_by_text(read_jsonl(d / "sentiment/tweeteval_val.jsonl"))
    tr, te = _stratified_split(tweets, lambda r: r["label"], 0.5)
    s["tweet_train"], s["tweet_test"] = _rows(tr, lambda r: r["label"]), _rows(te, lambda r: r["label"])

    uci = dedupe_by_text(read_jsonl(d / "sentiment/uci_labelled_sentences.jsonl"))
    s["uci_train"] = _rows(uci, lambda r: r["label"])

    steam = [r for r in dedupe_by_text(read_jsonl(d / "sentiment/steam_reviews_sample.jsonl"))
             if r.get("language", "english") == "english" and len(r["text"].strip()) >= 3]
    tr, te = _stratified_split(steam, lambda r: r["label"], 0.2)
    rng = random.Random(SEED)
    rng.shuffle(te)
    te = te[:1000]  # natural class mix
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in tr:
        by_label[r["label"]].append(r)
    tr = []
    for label in sorted(by_label):  # balanced subsample: CPU is scarce
        members = by_label[label][:]
        rng.shuffle(members)
        tr.extend(members[:1500])
    s["steam_train"] = _rows(tr, lambda r: STEAM_SENTIMENT[r["label"]])
    s["steam_test"] = _rows(te, lambda r: STEAM_SENTIMENT[r["label"]])

    vu = dedupe_by_text(read_jsonl(d / "need_type/vu2017_ios_reviews.jsonl"))
    tr, te = _stratified_split(vu, lambda r: r["label"], 0.3)
    keep = ("title", "rating", "sentiment")
    s["vu_train"] = _rows(tr, lambda r: VU_NEED[r["label"]], keep)
    s["vu_test"] = _rows(te, lambda r: VU_NEED[r["label"]], keep)

    tiz = dedupe_by_text(read_jsonl(d / "need_type/tizard2019_forum_sentences.jsonl"))
    tr, te = _stratified_split(tiz, lambda r: TIZARD_NEED[r["label_coarse"]], 0.3)
    s["tizard_train"] = _rows(tr, lambda r: TIZARD_NEED[r["label_coarse"]])
    s["tizard_test"] = _rows(te, lambda r: TIZARD_NEED[r["label_coarse"]])

    bank = read_jsonl(d / "jobs/banking77_train.jsonl")
    support, query = _few_shot_split(bank, 10)
    s["bank_support"], s["bank_query"] = _rows(support, lambda r: r["label"]), _rows(query, lambda r: r["label"])

    clinc = read_jsonl(d / "jobs/clinc150_train.jsonl")
    inscope = [r for r in clinc if r["label"] != "oos"]
    support, rest = _few_shot_split(inscope, 10)
    calib, _ = _few_shot_split(rest, 20)  # 20 other train rows per intent for calibrating "none"
    s["clinc_support"] = _rows(support, lambda r: r["label"])
    s["clinc_calib"] = _rows(calib + [r for r in clinc if r["label"] == "oos"], lambda r: r["label"])
    s["clinc_val"] = _rows(read_jsonl(d / "jobs/clinc150_val.jsonl"), lambda r: r["label"])

    if OWN_EXAMPLES.exists():
        own = read_jsonl(OWN_EXAMPLES)
        s["own_sentiment"] = _rows([r for r in own if r.get("sentiment")], lambda r: r["sentiment"])
        s["own_need"] = _rows([r for r in own if r.get("need_type")], lambda r: r["need_type"])
    return s


def _few_shot_split(rows: list[dict], k: int, seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """k rows per label (seeded) and the rest."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["label"]].append(row)
    rng = random.Random(seed)
    shots, rest = [], []
    for label in sorted(groups):
        members = groups[label][:]
        rng.shuffle(members)
        shots.extend(members[:k])
        rest.extend(members[k:])
    return shots, rest


def humanize_label(label: str) -> str:
    """An intent id as a job statement: ``card_arrival`` -> ``card arrival``."""
    return label.replace("_", " ").replace("-", " ").strip()


def sentence_table(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Sentences of all texts (flattened) and, per sentence, the index of its text."""
    sents: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        for sent in split_sentences(text):
            sents.append(sent)
            owner.append(i)
    return sents, np.asarray(owner, dtype=np.int64)


def cached_embeddings(encode: Callable[[Sequence[str]], np.ndarray], tag: str, name: str,
                      texts: Sequence[str]) -> np.ndarray:
    """Embed texts, reusing ``CACHE_DIR/<name>-<hash>.npy`` when the encoder tag and texts are unchanged."""
    h = hashlib.sha256(tag.encode())
    for t in texts:
        h.update(t.encode("utf-8", "replace"))
        h.update(b"\0")
    path = CACHE_DIR / f"{name}-{h.hexdigest()[:16]}.npy"
    if path.exists():
        return np.load(path)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    emb = encode(texts)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, path)
    return emb
