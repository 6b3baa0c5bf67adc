"""Load the hand-labelled multilingual need-type set of issue 28 (``bench/labels/need_multilingual/``).

Rows point into the shared data's ``multilingual/`` files by line number; the texts are joined back and checked
against each row's SHA-1 prefix (see :mod:`bench.labels.jobs_set`, whose data-folder rules this shares).
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.labels.jobs_set import LabelDataError, default_data_dir, join_texts, label_lines

NEED_DIR = Path(__file__).resolve().parent / "need_multilingual"
NEEDS = ("problem", "feature_request", "question", "praise", "other")
LANGS = ("de", "es", "fr", "it", "pt")
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class NeedLabel:
    file: str
    row: int
    sha1: str
    lang: str
    need: str
    split: str
    text: str = ""


@dataclass
class NeedSet:
    rows: list[NeedLabel]

    def split(self, name: str, lang: str | None = None) -> list[NeedLabel]:
        """The rows of split ``name`` (``dev`` or ``test``), optionally of one language."""
        return [r for r in self.rows if r.split == name and (lang is None or r.lang == lang)]


def read_need_labels(path: Path = NEED_DIR / "labels.jsonl") -> list[NeedLabel]:
    """The labelled rows, checked (known file prefix, language, need and split; no row twice); no texts yet."""
    rows: list[NeedLabel] = []
    seen: set[tuple[str, int]] = set()
    for where, raw in label_lines(path):
        try:
            row = NeedLabel(raw["file"], int(raw["row"]), raw["sha1"], raw["lang"], raw["need"], raw["split"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelDataError(f"{where}: malformed label ({exc})") from exc
        if not row.file.startswith("multilingual/"):
            raise LabelDataError(f"{where}: file {row.file} is not under multilingual/")
        for value, allowed, name in ((row.lang, LANGS, "lang"), (row.need, NEEDS, "need"),
                                     (row.split, SPLITS, "split")):
            if value not in allowed:
                raise LabelDataError(f"{where}: {name} {value!r} is not one of {allowed}")
        if (row.file, row.row) in seen:
            raise LabelDataError(f"{where}: row {row.row} of {row.file} is labelled twice")
        seen.add((row.file, row.row))
        rows.append(row)
    return rows


def load_need_set(data_dir: Path | None = None, labels: Path = NEED_DIR / "labels.jsonl",
                  with_text: bool = True) -> NeedSet:
    """The labelled rows with their texts joined back from ``data_dir`` (default: the shared data) and verified."""
    rows = read_need_labels(labels)
    if with_text:
        rows = join_texts(rows, data_dir or default_data_dir())
    return NeedSet(rows)
