"""The hand-labelled multilingual need-type set (issue 28): row ids and labels over ../shared/data, joined back.

``labels.jsonl`` rows are ``{"file", "row", "sha1", "lang", "need", "split"}`` (see
``bench/labels/need_multilingual/DATA_CARD.md``); the texts stay in the shared data. Used by ``bench/quality.py``
(test split) and to fit the multilingual need adjustment (dev split).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

LABELS = Path(__file__).resolve().parents[2] / "bench" / "labels" / "need_multilingual" / "labels.jsonl"


@dataclass(frozen=True)
class NeedRow:
    """One labelled post: its text (title and stars when the source has them), language, need type and split."""

    text: str
    title: str | None
    rating: float | None
    lang: str
    need: str
    split: str
    file: str = ""


def labels_path() -> Path:
    """Where the labels are: ``VOXPOP_NEED_LABELS`` when set, else ``bench/labels/need_multilingual/``."""
    return Path(os.environ.get("VOXPOP_NEED_LABELS") or LABELS)


def load_need_rows(data_dir: Path, labels: Path | None = None) -> list[NeedRow]:
    """Every labelled row with its text joined back; a missing or changed row raises ValueError naming it."""
    labels = labels or labels_path()
    wanted = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    files: dict[str, list[str]] = {}
    out = []
    for w in wanted:
        if w["file"] not in files:
            files[w["file"]] = (data_dir / w["file"]).read_text(encoding="utf-8").splitlines()
        lines = files[w["file"]]
        if w["row"] >= len(lines):
            raise ValueError(f"{w['file']}: row {w['row']} is missing")
        row = json.loads(lines[w["row"]])
        if hashlib.sha1(row["text"].encode("utf-8")).hexdigest()[:len(w["sha1"])] != w["sha1"]:
            raise ValueError(f"{w['file']}: row {w['row']} changed since it was labelled")
        rating = row.get("rating")
        out.append(NeedRow(row["text"], row.get("title") if isinstance(row.get("title"), str) else None,
                           float(rating) if isinstance(rating, int | float) else None, w["lang"], w["need"],
                           w["split"], w["file"]))
    return out
