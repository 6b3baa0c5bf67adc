"""Draw the rows of the hand-labelled multilingual need-type set (issue 28) and print them for the labeller.

Seed 28. Per language (de, es, fr, it, pt), from the non-English App Store reviews: non-empty texts that
look like the tagged language (:func:`looks_like`: the file's langid tags are mostly wrong on short texts, and
most de/fr/it rows are English), deduplicated by case- and whitespace-folded text (first row kept), split
into stratum ``low`` (1-3 stars) and ``high`` (4-5 stars); each stratum is shuffled with
``Random("28:<lang>:<stratum>")``; up to 65 low rows are taken and high rows fill the language to 130
(Spanish, the one language with many real reviews: 130 and 260, a superset of the first draw). Where a
language has fewer than 120 App Store rows, UMSAB tweets of that language (seeded shuffle, same filters) top it
up to 140 (rows the labeller finds not to be in the language are skipped, so the draw is generous).
The dev/test split of a row is a hash of its file and row number (:func:`split_of`), fixed before any row was
read. Usage:
``python bench/labels/sample_need.py LANG [START [COUNT]]``. Nothing it prints is kept in the repo.
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

SEED = 28
APPSTORE = "multilingual/appstore_reviews_stars_de_es_fr_it_pt.jsonl"
TWEETS = "multilingual/umsab_tweets_de_es_fr_it_pt.jsonl"
LANGS = ("de", "es", "fr", "it", "pt")
LOW_QUOTA, TOTAL, MINIMUM, TOP_UP = 65, 130, 120, 140
QUOTAS = {"es": (130, 260)}  # (low quota, total) where a language has more real reviews


def split_of(file: str, row: int) -> str:
    """``dev`` or ``test``, from a seeded hash of the row's place (about half each)."""
    return "dev" if hashlib.sha1(f"{SEED}:{file}:{row}".encode()).digest()[0] % 2 == 0 else "test"


STOPWORDS = {
    "en": "the and is it to of this that i you my for not in on with app but have can was are be so",
    "de": "der die das und ist nicht ich es zu ein eine mit auf für sie den dem von sehr aber auch wie man wenn noch "
          "nur mehr kann immer schon bei nach",
    "es": "el la los las de que y es no en un una por para con muy se lo me mi pero más como esta este al del todo "
          "bien ya hay sin",
    "fr": "le la les de des et est pas je un une pour que qui en du ne il on très mais avec ce cette sur plus tout "
          "bien au ça c'est",
    "it": "il lo la gli le di che e è non un una per con mi si ma molto del della questo questa sono come anche "
          "tutto più ho ha",
    "pt": "o a os as de que e é não em um uma para com muito se do da mas por mais eu meu esta este no na ao tem foi",
}
_STOP = {lang: set(words.split()) for lang, words in STOPWORDS.items()}


def looks_like(text: str, lang: str) -> bool:
    """True when ``lang``'s function words outnumber English ones and those of the other four languages."""
    words = re.findall(r"[\wàâäéèêëïîôöùûüçñãõßáíóú']+", text.lower())
    hits = {code: sum(word in stop for word in words) for code, stop in _STOP.items()}
    return hits[lang] > 0 and hits[lang] == max(hits.values()) and hits[lang] > hits["en"]


def _rows(path: Path, lang: str) -> list[tuple[int, dict]]:
    seen: set[str] = set()
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            row = json.loads(line)
            text = (row.get("text") or "").strip()
            key = re.sub(r"\s+", " ", text.lower())
            if row.get("lang") != lang or not text or key in seen or not looks_like(text, lang):
                continue
            seen.add(key)
            rows.append((number, row))
    return rows


def sample(lang: str, data_dir: Path) -> list[tuple[str, int, str, str]]:
    """The (file, row, stratum, text) drawn for ``lang``, App Store rows first."""
    rows = _rows(data_dir / APPSTORE, lang)
    low = [r for r in rows if int(r[1].get("rating") or 0) <= 3]
    high = [r for r in rows if int(r[1].get("rating") or 0) >= 4]
    random.Random(f"{SEED}:{lang}:low").shuffle(low)
    random.Random(f"{SEED}:{lang}:high").shuffle(high)
    low_quota, total = QUOTAS.get(lang, (LOW_QUOTA, TOTAL))
    low = low[:low_quota]
    drawn = [(APPSTORE, n, "low", r["text"]) for n, r in low]
    drawn += [(APPSTORE, n, "high", r["text"]) for n, r in high[:total - len(low)]]
    if len(drawn) < MINIMUM:
        tweets = _rows(data_dir / TWEETS, lang)
        random.Random(f"{SEED}:{lang}:tweets").shuffle(tweets)
        drawn += [(TWEETS, n, "tweet", r["text"]) for n, r in tweets[:TOP_UP - len(drawn)]]
    return drawn


def main() -> None:
    lang = sys.argv[1]
    start = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 65
    for index, (file, number, stratum, text) in enumerate(sample(lang, default_data_dir())):
        if start <= index < start + count:
            print(f"[{index}] {file.split('/')[-1][:8]} row={number} {stratum}: {' '.join(text.split())}")


if __name__ == "__main__":
    main()
