"""The hand-labelled evidence set of issue 28 (``bench/labels/evidence/``): which sentences of a post carry its point.

Two kinds of posts, all with at least two sentences (with one sentence there is nothing to choose):
- **own**: the project's own hand-written problem and feature-request posts (``classify/data``, the test fixtures,
  the demo's content), keyed ``<source>:<index>``; their texts are in the repo;
- **real**: App Store / Google Play reviews of ``../shared/data`` that are problems or feature requests, kept as
  file + row + SHA-1 prefix only (the texts stay in the shared data; :func:`bench.labels.jobs_set.join_texts`).

A label lists the acceptable evidences of a post as sentence-index spans ``[first, last]`` over
``classify.sentences.sentence_spans`` of its body (see the data card). Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.labels.jobs_set import LabelDataError, default_data_dir, join_texts, label_lines, text_sha

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE_DIR = Path(__file__).resolve().parent / "evidence"
UNMET = ("problem", "feature_request")
OWN_FILES = ("classify/data/voxpop_own_examples.jsonl", "classify/data/voxpop_own_examples_v2.jsonl",
             "classify/data/voxpop_review_testset.jsonl", "tests/fixtures/classify_labeled.jsonl")
# Real reviews: (shared-data file, the field and values that mark a problem or a request, how many to draw).
REAL_SOURCES = (("need_type/scalabrino2017_clap_rq1.jsonl", "label_coarse", UNMET, 40),
                ("need_type/vu2017_ios_reviews.jsonl", "label", ("bug_report", "feature_request"), 40))
REAL_MAX_CHARS = 600
SEED = "28:evidence"


@dataclass(frozen=True)
class EvidencePost:
    """One post of the set: ``id`` (own: ``source:index``; real: ``file:row``), its body and context."""

    id: str
    kind: str  # "own" or "real"
    text: str
    title: str | None = None
    rating: float | None = None
    sha1: str = ""


@dataclass(frozen=True)
class EvidenceLabel:
    """The acceptable evidence spans of one post (empty: no sentence of it states the point) and its split."""

    id: str
    split: str
    accept: tuple[tuple[int, int], ...]
    sha1: str = ""
    note: str = ""


def split_of(post_id: str) -> str:
    """Own posts: dev or test by a hash of the id (half each); real reviews are all held out (test)."""
    if not post_id.startswith(("need_type/", "sentiment/")):
        return "dev" if int(hashlib.sha1(post_id.encode()).hexdigest(), 16) % 2 == 0 else "test"
    return "test"


def n_sentences(text: str) -> int:
    from classify.sentences import sentence_spans

    return len(sentence_spans(text))


def own_posts() -> list[EvidencePost]:
    """The own problem / request posts with two or more sentences, from the labelled files and the demo."""
    posts: list[EvidencePost] = []
    for name in OWN_FILES:
        for i, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines()):
            row = json.loads(line)
            if row.get("need_type") in UNMET and n_sentences(row["text"]) >= 2:
                posts.append(EvidencePost(f"{Path(name).stem}:{i}", "own", row["text"], row.get("title"),
                                          row.get("rating")))
    from voxpop.demo import content

    demo: list[tuple[str, list[str]]] = [("BURST", content.BURST), ("REQUESTS", content.REQUESTS),
                                         ("PROBLEMS", content.PROBLEMS),
                                         ("CONTEXTS", content.CONTEXTS["notely"]),
                                         ("FORUM", [t[1][0] for t in content.FORUM_TOPICS]),
                                         ("JOURNEY", [t[1] for t in content.JOURNEY["notely"]])]
    for key, texts in demo:
        for i, text in enumerate(texts):
            if n_sentences(text) >= 2:
                posts.append(EvidencePost(f"demo_{key}:{i}", "own", text))
    return posts


def draw_real(data_dir: Path) -> list[EvidencePost]:
    """Draw the real reviews (seeded): problems and requests of 2-6 sentences, at most ``REAL_MAX_CHARS``."""
    posts: list[EvidencePost] = []
    for file, field, values, quota in REAL_SOURCES:
        pool = []
        for row, line in enumerate((data_dir / file).read_text(encoding="utf-8").splitlines()):
            raw = json.loads(line)
            text = raw.get("text") or ""
            if raw.get(field) in values and len(text) <= REAL_MAX_CHARS and 2 <= n_sentences(text) <= 6:
                pool.append(EvidencePost(f"{file}:{row}", "real", text, None, raw.get("rating"), text_sha(text)))
        random.Random(f"{SEED}:{file}").shuffle(pool)
        posts += pool[:quota]
    return posts


def read_labels(path: Path = EVIDENCE_DIR / "labels.jsonl") -> list[EvidenceLabel]:
    """The labels, checked (split, spans as ``[first, last]`` with first <= last, no id twice)."""
    labels: list[EvidenceLabel] = []
    seen: set[str] = set()
    for where, raw in label_lines(path):
        try:
            spans = tuple((int(a), int(b)) for a, b in raw["accept"])
            label = EvidenceLabel(str(raw["id"]), str(raw["split"]), spans, str(raw.get("sha1", "")),
                                  str(raw.get("note", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelDataError(f"{where}: malformed label ({exc})") from exc
        if label.split not in ("dev", "test") or any(a > b or a < 0 for a, b in spans) or label.id in seen:
            raise LabelDataError(f"{where}: bad split, span or repeated id {label.id!r}")
        seen.add(label.id)
        labels.append(label)
    return labels


@dataclass(frozen=True)
class _Row:
    file: str
    row: int
    sha1: str
    text: str = ""


def load_posts(labels: list[EvidenceLabel], data_dir: Path | None = None) -> dict[str, EvidencePost]:
    """The posts of ``labels`` by id: own ones from the repo, real ones joined from the shared data (SHA-1 checked)."""
    own = {p.id: p for p in own_posts()}
    real = [_Row(lab.id.rsplit(":", 1)[0], int(lab.id.rsplit(":", 1)[1]), lab.sha1)
            for lab in labels if lab.id not in own]
    out: dict[str, EvidencePost] = {}
    for lab in labels:
        if lab.id in own:
            out[lab.id] = own[lab.id]
    if real:
        data = data_dir or default_data_dir()
        ratings = _ratings(data, real)
        for r in join_texts(real, data):
            key = f"{r.file}:{r.row}"
            out[key] = EvidencePost(key, "real", r.text, None, ratings.get(key), r.sha1)
    missing = [lab.id for lab in labels if lab.id not in out]
    if missing:
        raise LabelDataError(f"evidence labels name posts that no longer exist: {', '.join(missing[:5])}")
    return out


def _ratings(data_dir: Path, rows: list[_Row]) -> dict[str, Any]:
    wanted: dict[str, set[int]] = {}
    for r in rows:
        wanted.setdefault(r.file, set()).add(r.row)
    out: dict[str, Any] = {}
    for file, want in wanted.items():
        for i, line in enumerate((data_dir / file).read_text(encoding="utf-8").splitlines()):
            if i in want:
                out[f"{file}:{i}"] = json.loads(line).get("rating")
    return out
