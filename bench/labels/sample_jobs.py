"""Draw the posts of the hand-labelled jobs set (issue 26) and print them for the labeller to read.

The draw is fixed (seed 26): per product, the rows of its file and app are filtered (English, at least three
words, at most 1,000 characters, deduplicated by whitespace- and case-folded text, first row kept), grouped by
stratum (App Store: the star rating, 1-5; Steam: recommended / not recommended) and a seeded shuffle of each
stratum is cut to its quota. Usage: ``python bench/labels/sample_jobs.py SLUG [START [COUNT]]``; it prints
``index row stratum text`` so the labels can be written by row. Nothing it prints is kept in the repo.

``--steps SLUG`` draws the step supplement (``steps_extra.jsonl``) instead: posts of the same product, outside
the main sample, whose text matches a cue of one of the seven steps other than ``use`` (:data:`STEP_CUES`),
6 per step, seeded. The cue only selects the post; its step (and jobs, context) are read and labelled like any
other post, so a cue may end up on ``use`` (an invoice email, a cancelled meeting).
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


STEP_QUOTA = 6
STEP_CUES: dict[str, str] = {
    "choose": r"\b(compared? (to|with)|better than|worse than|instead of|alternative|versus|"
              r"tried (other|many|several))",
    "get": r"\b(install|sign(ed)? up|can'?t (update|download)|not compatible|requires ios|won'?t (update|download))",
    "set-up": r"\b(sign(ing)? in|log(ging)? ?in|login|set ?up|setting up|add(ing)? (my|an|a) account|import\\b|"
              r"verification|two.step|settings)",
    "learn": r"\b(how (do|can) i|how to|figure out|tutorial|learning curve|get the hang|instructions)",
    "get-help": r"\b(support|customer service|help ?cent|contact(ed)?|recover|locked out|hacked|restore)",
    "pay": r"\b(pay|paid|price|pricing|subscription|storage plan|google one|charged?|money|\$\d|cost|premium)",
    "leave": r"\b(uninstall|delet(e|ed|ing) (the|this) app|cancel|switch(ed|ing)? to|going back to|moving to|"
             r"refund|export)",
}


def _english(row: dict) -> bool:
    return row.get("lang", "en") == "en" and row.get("language", "english") == "english"


def _candidates(slug: str, data_dir: Path) -> list[tuple[int, str, str]]:
    """The product's rows that pass the filters, as (row, stratum, text), duplicates by text dropped."""
    file, app, field, _ = PLAN[slug]
    seen: set[str] = set()
    rows = []
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
            rows.append((number, str(row.get(field)), row["text"]))
    return rows


def sample(slug: str, data_dir: Path) -> list[tuple[int, str, str]]:
    """The (row, stratum, text) drawn for ``slug``, in draw order (strata in the order of the plan)."""
    quotas = PLAN[slug][3]
    strata: dict[str, list[tuple[int, str]]] = {key: [] for key in quotas}
    for number, stratum, text in _candidates(slug, data_dir):
        if stratum in strata:
            strata[stratum].append((number, text))
    drawn = []
    for stratum, quota in quotas.items():
        rows = strata[stratum]
        random.Random(f"{SEED}:{slug}:{stratum}").shuffle(rows)
        drawn += [(number, stratum, text) for number, text in sorted(rows[:quota])]
    return drawn


def _authors_part(text: str) -> str:
    """The review without the developer's reply that some App Store rows carry after a dashed line."""
    return re.split(r"-{20,}|开发者回复", text)[0]


def sample_step_cued(slug: str, data_dir: Path) -> list[tuple[int, str, str]]:
    """The step supplement for ``slug``: (row, cued step, text), 6 per non-``use`` step, outside :func:`sample`."""
    taken = {number for number, _, _ in sample(slug, data_dir)}
    rows = [(number, text) for number, _, text in _candidates(slug, data_dir) if number not in taken]
    drawn = []
    for step, cue in STEP_CUES.items():
        pattern = re.compile(cue, re.IGNORECASE)
        matches = [(number, text) for number, text in rows
                   if number not in taken and pattern.search(_authors_part(text))]
        random.Random(f"{SEED}:{slug}:cue:{step}").shuffle(matches)
        for number, text in sorted(matches[:STEP_QUOTA]):
            taken.add(number)
            drawn.append((number, step, text))
    return drawn


def main() -> None:
    args = sys.argv[1:]
    draw = sample
    if args and args[0] == "--steps":
        draw, args = sample_step_cued, args[1:]
    slug = args[0]
    start = int(args[1]) if len(args) > 1 else 0
    count = int(args[2]) if len(args) > 2 else 40
    for index, (number, stratum, text) in enumerate(draw(slug, default_data_dir())):
        if start <= index < start + count:
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
            print(f"[{index}] row={number} {stratum} sha={digest}\n{' '.join(text.split())}\n")


if __name__ == "__main__":
    main()
