"""Training, dev and test corpora of classifier v2, held out by source or by app.

Every split is fixed by ``SEED`` and built from the files under ``../shared/data`` (or ``--data DIR``).
The rule: rows of one app (or forum) never sit on both sides of a split; where a source ships its own
split (Senti4SD, UMSAB) it is kept. ``classify/training/train.py`` reads only ``train`` splits and ``dev`` splits
(checkpoint choice); ``bench/quality.py`` reads ``test`` splits once.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from classify.labels import NEED_TYPES, SENTIMENTS
from classify.training.data import (
    OWN_EXAMPLES,
    SEED,
    STEAM_SENTIMENT,
    TIZARD_NEED,
    VU_NEED,
    VU_SENTIMENT,
    dedupe_by_text,
    read_jsonl,
)

Row = TypeVar("Row")  # a data row (dict) or an Example: _sample keeps the type it is given
OWN_DIR = Path(__file__).resolve().parent.parent / "data"
OWN_TRAIN_V2 = OWN_DIR / "voxpop_own_examples_v2.jsonl"
OWN_TESTSET = OWN_DIR / "voxpop_review_testset.jsonl"

# Apps held out of training. App Store stars: Teams is the test app, TestFlight the dev app.
APPSTORE_TEST_APPS = frozenset({"Microsoft Teams (iOS)"})
APPSTORE_DEV_APPS = frozenset({"TestFlight (iOS)"})
VU_TEST_APPS = frozenset({"Waze", "Whatsapp"})
VU_DEV_APPS = frozenset({"Pinterest"})
TIZARD_TEST_SOURCES = frozenset({"Firefox support forum"})
# CLAP and Steam have many apps: an app goes to test / dev by a hash of its name (20% / 10%).
HASHED_TEST_SHARE, HASHED_DEV_SHARE = 0.2, 0.1
CLAP_NEED = {"bug": "problem", "performance": "problem", "energy": "problem", "security": "problem",
             "usability": "problem", "feature": "feature_request", "other": "other"}
STAR_SENTIMENT = {1: "negative", 2: "negative", 3: "neutral", 4: "positive", 5: "positive"}
# A five-star review with none of these words is taken as praise (weak label where the text agrees).
_NOT_PRAISE = re.compile(
    r"\b(but|however|please|add|wish|would|could|should|need|needs|want|bug|crash\w*|fix\w*|error|issue|"
    r"problem|broken|slow|can'?t|cannot|won'?t|doesn'?t|don'?t|not|no|why|how|\?|hope|only|except|missing)\b|\?",
    re.IGNORECASE)


@dataclass
class Example:
    """One labelled text: ``task`` is ``sentiment`` or ``need``; ``rating`` None when unknown or hidden."""

    text: str
    label: str
    task: str
    source: str
    rating: int | None = None
    lang: str = "en"
    app: str | None = None
    title: str | None = None
    extra: dict = field(default_factory=dict)


def _dedupe(rows: Iterable[dict]) -> list[dict]:
    return dedupe_by_text(rows, min_chars=2)


def hashed_side(app: str) -> str:
    """``test``, ``dev`` or ``train`` for an app, stable across runs (a hash of its name)."""
    h = int(hashlib.sha256(app.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if h < HASHED_TEST_SHARE:
        return "test"
    return "dev" if h < HASHED_TEST_SHARE + HASHED_DEV_SHARE else "train"


def _side(app: str | None, test: frozenset[str], dev: frozenset[str]) -> str:
    return "test" if app in test else "dev" if app in dev else "train"


def _sample(rows: list[Row], n: int, key: Callable[[Row], str] | None = None, seed: int = SEED) -> list[Row]:
    """A seeded sample of at most n rows; with ``key``, at most n // classes per class (balanced)."""
    rng = random.Random(seed)
    if key is None:
        rows = rows[:]
        rng.shuffle(rows)
        return rows[:n]
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    out: list[Row] = []
    per = n // max(len(groups), 1)
    for k in sorted(groups):
        g = groups[k][:]
        rng.shuffle(g)
        out.extend(g[:per])
    return out


def _rating(row: dict) -> int | None:
    r = row.get("rating")
    return int(r) if isinstance(r, int | float) and 1 <= r <= 5 else None


def load_corpora(data_dir: Path, sizes: dict[str, int] | None = None) -> dict[str, list[Example]]:
    """All splits, keyed ``<source>_<train|dev|test>``.

    Args:
        data_dir: the shared data folder.
        sizes: caps on training rows per source (CPU is scarce); defaults in ``TRAIN_SIZES``.
    """
    d = Path(data_dir)
    caps = {**TRAIN_SIZES, **(sizes or {})}
    out: dict[str, list[Example]] = defaultdict(list)

    def add(split: str, ex: Example) -> None:
        out[split].append(ex)

    # Sentiment: SemEval tweets (train), TweetEval validation (dev/test: disjoint from the pool).
    sem = _dedupe(read_jsonl(d / "sentiment/semeval2017_4a_train_2013_2016.jsonl"))
    for r in _sample(sem, caps["semeval"]):
        add("semeval_train", Example(r["text"].strip(), r["label"], "sentiment", "semeval"))
    tweets = _dedupe(read_jsonl(d / "sentiment/tweeteval_val.jsonl"))
    for r in tweets:
        add("tweeteval_val", Example(r["text"].strip(), r["label"], "sentiment", "tweeteval"))

    # App Store reviews with stars, held out by app. Stars are the label, so the rating is never an input here.
    apps = _dedupe(read_jsonl(d / "sentiment/appstore_reviews_stars_en.jsonl"))
    by_side: dict[str, list[dict]] = defaultdict(list)
    for r in apps:
        by_side[_side(r.get("app"), APPSTORE_TEST_APPS, APPSTORE_DEV_APPS)].append(r)
    for side, rows in by_side.items():
        if side == "train":
            rows = _sample(rows, caps["appstore"], key=lambda r: r["label"])
        elif side == "dev":
            rows = _sample(rows, 1500)
        for r in rows:
            ex = Example(r["text"].strip(), r["label"], "sentiment", "appstore", rating=None, app=r.get("app"),
                         title=r.get("title"), extra={"stars": _rating(r)})
            add(f"appstore_{side}", ex)
            if side == "train" and _rating(r) == 5 and len(r["text"]) < 160 and not _NOT_PRAISE.search(r["text"]):
                add("weakpraise_train", Example(r["text"].strip(), "praise", "need", "appstore_weak", app=r.get("app")))
    out["weakpraise_train"] = _sample(out.get("weakpraise_train", []), caps["weakpraise"])

    # Steam: the author's thumbs, held out by game.
    steam = [r for r in _dedupe(read_jsonl(d / "sentiment/steam_reviews_sample.jsonl"))
             if r.get("language", "english") == "english" and len(r["text"].strip()) >= 3]
    by_side = defaultdict(list)
    for r in steam:
        by_side[hashed_side(str(r.get("app")))].append(r)
    for side, rows in by_side.items():
        rows = _sample(rows, caps["steam"], key=lambda r: r["label"]) if side == "train" else _sample(rows, 1500)
        for r in rows:
            add(f"steam_{side}", Example(r["text"].strip(), STEAM_SENTIMENT[r["label"]], "sentiment", "steam",
                                         app=str(r.get("app"))))

    # Senti4SD: its own train/test split; dev = 15% of its train.
    s4 = _dedupe(read_jsonl(d / "sentiment/senti4sd_stackoverflow_polarity.jsonl"))
    rng = random.Random(SEED)
    for r in s4:
        side = "test" if r.get("split_original") == "test" else ("dev" if rng.random() < 0.15 else "train")
        add(f"senti4sd_{side}", Example(r["text"].strip(), r["label"], "sentiment", "senti4sd"))

    for r in _sample(_dedupe(read_jsonl(d / "sentiment/uci_labelled_sentences.jsonl")), caps["uci"]):
        add("uci_train", Example(r["text"].strip(), r["label"], "sentiment", "uci"))

    # Vu 2017 reviews: need type and annotator sentiment, with rating as an input; held out by app.
    for r in _dedupe(read_jsonl(d / "need_type/vu2017_ios_reviews.jsonl")):
        side = _side(r.get("app"), VU_TEST_APPS, VU_DEV_APPS)
        sentiment = VU_SENTIMENT.get(r.get("sentiment") or "")
        need = VU_NEED[r["label"]]
        if need == "other" and sentiment == "positive":
            need = "praise"  # Vu files praise under "other"; positive "other" reviews are praise
        common = dict(source="vu", rating=_rating(r), app=r.get("app"), title=r.get("title"),
                      extra={"vu_label": VU_NEED[r["label"]], "sentiment": sentiment})
        add(f"vu_{side}", Example(r["text"].strip(), need, "need", **common))  # type: ignore[arg-type]
        if sentiment:
            add(f"vusent_{side}", Example(r["text"].strip(), sentiment, "sentiment", **common))  # type: ignore[arg-type]

    # Tizard 2019 forum sentences: Firefox held out, VLC trains (15% of VLC is dev).
    rng = random.Random(SEED)
    for r in _dedupe(read_jsonl(d / "need_type/tizard2019_forum_sentences.jsonl")):
        side = "test" if r.get("source") in TIZARD_TEST_SOURCES else ("dev" if rng.random() < 0.15 else "train")
        add(f"tizard_{side}", Example(r["text"].strip(), TIZARD_NEED[r["label_coarse"]], "need", "tizard",
                                      app=r.get("source")))

    # CLAP Google Play reviews (rq1 + rq3), held out by app.
    clap = _dedupe(read_jsonl(d / "need_type/scalabrino2017_clap_rq1.jsonl")
                   + read_jsonl(d / "need_type/scalabrino2017_clap_rq3.jsonl"))
    for r in clap:
        side = hashed_side(str(r.get("app")))
        need = CLAP_NEED.get(r["label"], "other")
        add(f"clap_{side}", Example(r["text"].strip(), need, "need", "clap", rating=_rating(r), app=r.get("app"),
                                    extra={"clap_label": r["label"]}))

    # Multilingual tweets (UMSAB's own split) and non-English App Store reviews (train only: small).
    umsab = _dedupe(read_jsonl(d / "multilingual/umsab_tweets_de_es_fr_it_pt.jsonl"))
    umsab_train = _sample([r for r in umsab if r.get("split_original") == "train"], caps["umsab"])
    for r in umsab_train + [r for r in umsab if r.get("split_original") in ("val", "test")]:
        side = {"train": "train", "val": "dev", "test": "test"}[r.get("split_original", "train")]
        add(f"umsab_{side}", Example(r["text"].strip(), r["label"], "sentiment", "umsab", lang=r["lang"]))
    for r in _dedupe(read_jsonl(d / "multilingual/appstore_reviews_stars_de_es_fr_it_pt.jsonl")):
        if r.get("app") in APPSTORE_TEST_APPS | APPSTORE_DEV_APPS:
            continue
        add("appstore_ml_train", Example(r["text"].strip(), r["label"], "sentiment", "appstore_ml",
                                         lang=r.get("lang", "xx"), title=r.get("title")))

    # Our own written examples (train) and our own written review test set.
    for path, split in ((OWN_EXAMPLES, "own_train"), (OWN_TRAIN_V2, "ownv2_train"), (OWN_TESTSET, "owntest_test")):
        if not path.exists():
            continue
        for r in read_jsonl(path):
            text = r["text"].strip()
            meta = {k: r.get(k) for k in ("category", "unambiguous", "sentiment", "need_type")}
            if r.get("sentiment") in SENTIMENTS:
                add(split, Example(text, r["sentiment"], "sentiment", "own", rating=_rating(r),
                                   lang=r.get("lang") or "en", title=r.get("title"), extra=meta))
            if r.get("need_type") in NEED_TYPES:
                add(split, Example(text, r["need_type"], "need", "own", rating=_rating(r),
                                   lang=r.get("lang") or "en", title=r.get("title"), extra=meta))
    return dict(out)


# Training rows per source (samples are class-balanced where noted in ``load_corpora``).
TRAIN_SIZES = {"semeval": 8000, "appstore": 5000, "steam": 2000, "weakpraise": 1500, "uci": 1000, "umsab": 6000}
