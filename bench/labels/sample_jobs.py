"""Draw the posts of the hand-labelled jobs set (issue 26) and print them for the labeller to read.

The draw is fixed (seed 26): per product, the rows of its file and app are filtered (English, at least three
words, at most 1,000 characters, deduplicated by whitespace- and case-folded text, first row kept), grouped by
stratum (App Store: the star rating, 1-5; Steam: recommended / not recommended) and a seeded shuffle of each
stratum is cut to its quota. Usage: ``python bench/labels/sample_jobs.py SLUG [START [COUNT]]``; it prints
``index row stratum text`` so the labels can be written by row. Nothing it prints is kept in the repo.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.labels.jobs_set import default_data_dir  # noqa: E402

SEED = 26
MAX_CHARS = 1000
MIN_WORDS = 3
# slug -> (file, app, stratum field, quota per stratum)
PLAN: dict[str, tuple[str, str, str, dict[str, int]]] = {
    "gmail": ("sentiment/appstore_reviews_stars_en.jsonl", "Gmail (iOS)", "rating",
              {"1": 24, "2": 24, "3": 24, "4": 24, "5": 24}),
    "rust": ("sentiment/steam_reviews_sample.jsonl", "Rust", "label",
             {"not_recommended": 60, "recommended": 60}),
    "google-drive": ("sentiment/appstore_reviews_stars_en.jsonl", "Google Drive (iOS)", "rating",
                     {"1": 24, "2": 24, "3": 24, "4": 24, "5": 24}),
    "teams": ("sentiment/appstore_reviews_stars_en.jsonl", "Microsoft Teams (iOS)", "rating",
              {"1": 24, "2": 24, "3": 24, "4": 24, "5": 24}),
}


def _english(row: dict) -> bool:
    return row.get("lang", "en") == "en" and row.get("language", "english") == "english"


def sample(slug: str, data_dir: Path) -> list[tuple[int, str, str]]:
    """The (row, stratum, text) drawn for ``slug``, in draw order (strata in the order of the plan)."""
    file, app, field, quotas = PLAN[slug]
    seen: set[str] = set()
    strata: dict[str, list[tuple[int, str]]] = {key: [] for key in quotas}
    with open(data_dir / file, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            row = json.loads(line)
            text = (row.get("text") or "").strip()
            if row.get("app") != app or not _english(row):
                continue
            key = re.sub(r"\s+", " ", text.lower())
            if len(text.split()) < MIN_WORDS or len(text) > MAX_CHARS or key in seen:
                continue
            seen.add(key)
            stratum = str(row.get(field))
            if stratum in strata:
                strata[stratum].append((number, row["text"]))
    drawn = []
    for stratum, quota in quotas.items():
        rows = strata[stratum]
        random.Random(f"{SEED}:{slug}:{stratum}").shuffle(rows)
        drawn += [(number, stratum, text) for number, text in sorted(rows[:quota])]
    return drawn


def main() -> None:
    slug = sys.argv[1]
    start = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    for index, (number, stratum, text) in enumerate(sample(slug, default_data_dir())):
        if start <= index < start + count:
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
            print(f"[{index}] row={number} {stratum} sha={digest}\n{' '.join(text.split())}\n")


if __name__ == "__main__":
    main()
