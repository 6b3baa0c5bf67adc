"""Emerging issues on real app-review streams, scored against what later release notes say was fixed.

    .venv/bin/python bench/emerging.py [--data DIR] [--apps a,b] [--sample N] [--cache-only] [--watch K=V]

Data: ``DIR/<app>/reviews.jsonl`` (id, text, title, rating, date, version) and ``DIR/<app>/gold.jsonl``
(per release: version, release_date, issue_keywords = keyword groups of its notes, fix_keywords = the
groups that mention fixes). Versions of reviews are inferred from dates, so release windows are the
date ranges between releases.

1. Classification: each app's reviews are classified once with the current packaged model
   (``classify.Classifier``); predictions and embeddings are cached under /tmp (never in the repo) and
   reused on later runs. ``--sample N`` keeps every N-th review (for small machines; say so in results).
2. Replay: the backtest code path (``alerts.detect.replay`` with the same labeller ``voxpop backtest``
   uses), day by day from each app's first review with no look-ahead, the ``[alerts]`` defaults. Every
   issue alert counts: discoveries (new, rising, reopened) and release watch notes (``issue_watch``).
3. Scoring as IDEA (Gao et al., ICSE 2018) does: each issue alert falls in the release window of its
   day; an alert in window v is correct when its label or first 10 keywords share a word (lowercase,
   light stemming, stopwords never count) with a keyword group of the notes of v or v+1 (strict: two
   words); alerts of windows where neither note is informative are not judged. Precision is
   averaged over windows with alerts; recall is the share of fix-keyword groups
   (of releases whose windows the replay covers) matched by an alert of window v-1 or v; F is their
   harmonic mean. A second line counts no generic release-note word ("bug", "fix", "update", ...).
   The recall ceiling is the share of fix-keyword groups that any review of window v-1 or v shares
   words with: what no detector working from these reviews can beat.
4. Apps are split into tuning and reported apps; the reported mean is over the apps not tuned on.
5. Labels: the share of alerts whose label is one word ("audio" where "no audio" says what is wrong).
6. The release watch (``alerts.release_watch``, entries of kind ``release_watch`` in the same replay, each
   on the day its release had enough posts) is scored the same way, apart from the alerts: F lenient and
   strict per app and mean (goals: reported mean >= 0.60 lenient, >= 0.20 strict). Its labels: the share
   of problem topics (most posts "problem") whose label holds a problem word (``alerts.labels.says_problem``,
   goal >= 80%) and the share of one-word labels (goal <= 10%). ``--watch NAME=VALUE`` overrides a
   ``WatchSpec`` setting. Alerts keep their own lines: issue alerts per week (goal <= 2) and precision.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pickle
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from alerts.detect import WATCH_KIND, Params, PostRow, replay  # noqa: E402
from alerts.labels import PhraseEncoder, content_words, labeller_with, name_words, says_problem  # noqa: E402
from alerts.release_watch import RELEASE_WATCH_KIND, WatchSpec  # noqa: E402
from voxpop.config import AlertSpec  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "emerging"
CACHE = Path(tempfile.gettempdir()) / "voxpop_emerging" / "cache"
APPS = ("github_ios", "testflight_ios", "zoom_ios", "microsoft_teams_ios", "google_chrome_ios", "google_drive_ios",
        "gmail_ios")
TUNE = ("github_ios", "testflight_ios", "zoom_ios", "microsoft_teams_ios")  # tuned on these; the others are reported
IDEA_F, OLDA_F = 0.585, 0.431
WARMUP_DAYS = 28
GENERIC = frozenset("bug bugs fix fixes fixed fixing issue issues improvement improvements improve improved "
                    "performance update updates updated version versions stability stable minor general various "
                    "feature features support supported change changes experience".split())


# ---------------------------------------------------------------- data and cache


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_cache(app: str) -> dict[str, dict[str, Any]]:
    """Cached predictions of an app's reviews, by review id."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(glob.glob(str(CACHE / f"{app}.*.npz"))):
        with np.load(path) as z:
            for i, rid in enumerate(z["ids"].tolist()):
                out[rid] = {"emb": z["emb"][i].astype(np.float32), "need": str(z["need"][i]),
                            "sentiment": str(z["sentiment"][i]), "evidence": str(z["evidence"][i])}
    return out


def classify_missing(app: str, rows: list[dict[str, Any]], have: dict[str, dict[str, Any]]) -> int:
    """Classify the reviews not cached yet with the current packaged model; returns how many."""
    todo = [r for r in rows if r["id"] not in have]
    if not todo:
        return 0
    from classify import Classifier

    model = Classifier(max_tokens=64)
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = int(time.time())
    for k in range(0, len(todo), 1024):
        chunk = todo[k:k + 1024]
        preds = model.predict([r.get("text") or "" for r in chunk], titles=[r.get("title") for r in chunk],
                              ratings=[r.get("rating") for r in chunk])
        path = CACHE / f"{app}.b{stamp}.{k // 1024:04d}.npz"
        np.savez(path, ids=np.array([r["id"] for r in chunk]),
                 emb=np.stack([p.embedding for p in preds]).astype(np.float16),
                 need=np.array([p.need_type for p in preds]), need_score=np.array([p.need_score for p in preds]),
                 sentiment=np.array([p.sentiment for p in preds]), evidence=np.array([p.evidence for p in preds]),
                 model=np.array(model.model_version))
        for r, p in zip(chunk, preds, strict=True):
            have[r["id"]] = {"emb": p.embedding.astype(np.float32), "need": p.need_type, "sentiment": p.sentiment,
                             "evidence": p.evidence}
        print(f"  classified {min(k + 1024, len(todo))}/{len(todo)} of {app}", flush=True)
    return len(todo)


def to_posts(rows: list[dict[str, Any]], preds: dict[str, dict[str, Any]]) -> list[PostRow]:
    out = []
    for i, r in enumerate(rows):
        p = preds.get(r["id"])
        if p is None:
            continue
        at = datetime.fromisoformat(r["date"][:10]).replace(hour=12, tzinfo=UTC)
        text = " ".join(x for x in (r.get("title"), r.get("text")) if x)
        out.append(PostRow(id=i + 1, created_at=at, embedding=p["emb"], unmet=p["need"] in ("problem",
                           "feature_request"), need_type=p["need"], rating=float(r.get("rating") or 0) or None,
                           negative=p["sentiment"] == "negative", text=text, version=r.get("version"),
                           evidence=p["evidence"]))
    out.sort(key=lambda p: (p.created_at, p.id))
    return out


# ---------------------------------------------------------------- scoring


def stem(word: str) -> str:
    """Light stemming that maps a word's inflections to one form: "meeting", "meetings" and "meet";
    "update", "updates", "updated" and "updating"; "crash", "crashes" and "crashing"; "stopped" and "stop"."""
    w = word.lower().strip("'").replace("'s", "").replace("’s", "")
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(("sses", "xes", "ches", "shes", "zes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":  # stopped -> stop, dropping -> drop
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):  # update / updat(ed), freeze / freez(ing)
        w = w[:-1]
    return w


def words_of(texts: list[str], generic: bool) -> set[str]:
    out = {stem(w) for t in texts for w in content_words(t)}
    return out if generic else out - {stem(g) for g in GENERIC}


def windows(gold: list[dict[str, Any]]) -> list[tuple[str, date, date]]:
    """(version, first day, last day) of each release window, in order."""
    rel = sorted((g for g in gold if g.get("release_date")), key=lambda g: g["release_date"])
    out = []
    for i, g in enumerate(rel):
        start = date.fromisoformat(g["release_date"][:10])
        end = date.fromisoformat(rel[i + 1]["release_date"][:10]) - timedelta(days=1) if i + 1 < len(rel) else (
            date(2100, 1, 1))
        out.append((g["version"], start, end))
    return out


def window_of(wins: list[tuple[str, date, date]], day: date) -> int | None:
    """Index of the release window holding ``day`` (None before the first release)."""
    return next((i for i, (_, first, last) in enumerate(wins) if first <= day <= last), None)


def score(alerts: list[dict[str, Any]], gold: list[dict[str, Any]], first: date, last: date, need: int,
          generic: bool) -> dict[str, float]:
    """IDEA's hybrid precision, recall and F for one app (``need`` shared words make a match)."""
    wins = windows(gold)
    by_version = {g["version"]: g for g in gold}
    groups = [[words_of([k], generic) for k in (by_version[v].get("issue_keywords") or [])] for v, _, _ in wins]
    fixes = [[words_of([k], generic) for k in (by_version[v].get("fix_keywords") or [])] for v, _, _ in wins]
    per_window: dict[int, list[bool]] = defaultdict(list)
    hit: set[tuple[int, int]] = set()
    for a in alerts:
        day = date.fromisoformat(a["day"])
        w = window_of(wins, day)
        if w is None:
            continue
        if not any(by_version[wins[u][0]].get("informative") for u in (w, w + 1) if u < len(wins)):
            continue  # notes that say nothing ("bug fixes") judge no alert: IDEA scores informative releases
        words = words_of([a.get("label") or "", *list(a.get("keywords") or [])[:10]], generic)
        ok = False
        for u in (w, w + 1):
            if u >= len(wins):
                continue
            ok = ok or any(len(words & g) >= need for g in groups[u])
            for j, g in enumerate(fixes[u]):
                if len(words & g) >= need:
                    hit.add((u, j))
        per_window[w].append(ok)
    def overlaps(u: int) -> bool:
        return 0 <= u < len(wins) and wins[u][1] <= last and wins[u][2] >= first

    total = sum(len(fixes[u]) for u in range(len(wins)) if overlaps(u) or overlaps(u - 1))
    precision = float(np.mean([np.mean(v) for v in per_window.values()])) if per_window else 0.0
    recall = len(hit) / total if total else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f": f, "windows": len(per_window), "fix_groups": total}


def recall_ceiling(posts: list[PostRow], gold: list[dict[str, Any]], first: date, last: date, need: int) -> float:
    """The recall no review-based detector can beat: the share of fix-keyword groups that share ``need``
    words with at least one review posted in window v-1 or v (many releases have a handful of reviews)."""
    wins = windows(gold)
    by_version = {g["version"]: g for g in gold}
    seen: list[set[str]] = [set() for _ in wins]
    for post in posts:
        day = post.created_at.date()
        w = window_of(wins, day)
        if w is not None:
            seen[w] |= words_of([post.text], True)
    total = reachable = 0
    for u, (v, s, e) in enumerate(wins):
        if not (s <= last and e >= first) and not (u and wins[u - 1][1] <= last and wins[u - 1][2] >= first):
            continue
        words = seen[u] | (seen[u - 1] if u else set())
        for k in by_version[v].get("fix_keywords") or []:
            total += 1
            reachable += len(words_of([k], True) & words) >= need
    return reachable / total if total else 0.0


# ---------------------------------------------------------------- main


class DiskPhrases(PhraseEncoder):
    """Phrase embeddings kept on disk between bench runs (labels re-embed the same phrases)."""

    path = CACHE.parent / "phrases.pkl"

    def load(self) -> None:
        if self.path.exists():
            self.cache.update(pickle.loads(self.path.read_bytes()))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(pickle.dumps(self.cache))


def label_shares(entries: list[dict[str, Any]]) -> dict[str, float]:
    """Of problem topics, the share whose label says what goes wrong; of all, the share of one-word labels."""
    problems = [e for e in entries if e.get("need_type") == "problem"]
    return {"problem_word": sum(says_problem(e.get("label") or "") for e in problems) / len(problems) if problems
            else 0.0, "problems": len(problems),
            "one_word": sum(len((e.get("label") or "").split()) == 1 for e in entries) / len(entries) if entries
            else 0.0}


def run_app(app: str, data: Path, params: Params, sample: int, cache_only: bool, phrases: Any,
            watch: WatchSpec) -> dict[str, Any]:
    rows = load_jsonl(data / app / "reviews.jsonl")
    rows.sort(key=lambda r: (r["date"], r["id"]))
    gold = load_jsonl(data / app / "gold.jsonl")
    rows = [r for i, r in enumerate(rows) if i % sample == 0] if sample > 1 else rows
    preds = load_cache(app)
    if not cache_only:
        classify_missing(app, rows, preds)
    posts = to_posts(rows, preds)
    if not posts:
        return {"app": app, "skipped": "no classified reviews cached"}
    first, last = posts[0].created_at.date(), posts[-1].created_at.date()
    start = first + timedelta(days=WARMUP_DAYS)
    t0 = time.perf_counter()
    product = app.removesuffix("_ios").replace("_", " ")  # the product's name, as `voxpop backtest` knows it
    days = replay(posts, params, start, last, labeller=labeller_with(phrases, name_words(product)), watch=watch)
    seconds = time.perf_counter() - t0
    alerts = [dict(a, day=d["day"]) for d in days for a in d["alerts"] if a["kind"].startswith("issue_")]
    watched = [dict(a, day=d["day"]) for d in days for a in d["alerts"] if a["kind"] == RELEASE_WATCH_KIND]
    weeks = max(1.0, ((last - start).days + 1) / 7)
    watch = sum(1 for a in alerts if a["kind"] == WATCH_KIND)
    one_word = sum(1 for a in alerts if len((a.get("label") or "").split()) == 1)
    out = {"app": app, "reviews": len(posts), "of": len(rows) * (sample if sample > 1 else 1), "first": str(first),
           "last": str(last), "alerts": len(alerts), "watch": watch, "per_week": len(alerts) / weeks,
           "one_word_labels": one_word / len(alerts) if alerts else 0.0,
           "seconds": seconds, "watch_entries": len(watched),
           "watch_releases": len({a["version"] for a in watched}),
           "watch_labels": label_shares(watched), "alert_labels": label_shares(alerts),
           "examples": [(a["day"], a.get("version"), a["kind"], a.get("label")) for a in alerts[:8]],
           "watch_examples": [(a["day"], a["version"], a.get("need_type"), a.get("label"), a["figures"]["score"])
                              for a in watched[-9:]]}
    out["ceiling"] = {"lenient": recall_ceiling(posts, gold, start, last, 1),
                      "strict": recall_ceiling(posts, gold, start, last, 2)}
    for name, need, generic in (("lenient", 1, True), ("strict", 2, True), ("lenient_specific", 1, False),
                                ("strict_specific", 2, False)):
        out[name] = score(alerts, gold, start, last, need, generic)
    for name, need in (("watch_lenient", 1), ("watch_strict", 2)):
        out[name] = score(watched, gold, start, last, need, True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--sample", type=int, default=1, help="keep every N-th review (default all)")
    parser.add_argument("--cache-only", action="store_true", help="use cached predictions only; classify nothing")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override an [alerts] threshold, e.g. --set fdr=0.1")
    parser.add_argument("--watch", action="append", default=[], metavar="NAME=VALUE",
                        help="override a release-watch setting (alerts.release_watch.WatchSpec), e.g. --watch top=5")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    params = Params.from_spec(AlertSpec())
    for item in args.set:
        name, value = item.split("=", 1)
        params = replace(params, **{name: type(getattr(params, name))(value)})
    watch = WatchSpec.from_spec(AlertSpec())
    for item in args.watch:
        name, value = item.split("=", 1)
        watch = replace(watch, **{name: type(getattr(watch, name))(value)})
    from classify.encoder import Encoder

    encoder = Encoder(max_tokens=32)
    phrases = DiskPhrases(encoder.encode, dim=encoder.dim, limit=10**7)
    phrases.load()
    print(f"data: {args.data}; params: {params}; release watch: {watch}")
    print(f"tuned on: {', '.join(TUNE)}; reported: the others" + (f"; every {args.sample}th review" if args.sample > 1
                                                                    else ""))
    results = []
    for app in args.apps.split(","):
        r = run_app(app, args.data, params, args.sample, args.cache_only, phrases, watch)
        phrases.save()
        results.append(r)
        if "skipped" in r:
            print(f"{app:22s} skipped: {r['skipped']}")
            continue
        tag = "tune" if app in TUNE else "report"
        print(f"{app:22s} [{tag:6s}] {r['reviews']:6d}/{r['of']:6d} reviews {r['first']}..{r['last']}  "
              f"alerts {r['alerts']:4d} ({r['watch']} watch; {r['per_week']:.2f}/week; one-word labels "
              f"{r['one_word_labels']:.0%})  "
              f"F lenient {r['lenient']['f']:.3f} (P {r['lenient']['precision']:.2f} R {r['lenient']['recall']:.2f})  "
              f"strict {r['strict']['f']:.3f}  | no generic words: {r['lenient_specific']['f']:.3f} / "
              f"{r['strict_specific']['f']:.3f}  [{r['seconds']:.0f} s]  recall ceiling {r['ceiling']['lenient']:.2f}"
              f" / {r['ceiling']['strict']:.2f}", flush=True)
        wl = r["watch_labels"]
        print(f"{'':22s}   release watch: {r['watch_entries']} topics in {r['watch_releases']} releases  "
              f"F lenient {r['watch_lenient']['f']:.3f} (P {r['watch_lenient']['precision']:.2f} "
              f"R {r['watch_lenient']['recall']:.2f})  strict {r['watch_strict']['f']:.3f}  labels: problem words "
              f"{wl['problem_word']:.0%} of {wl['problems']} problem topics, one-word {wl['one_word']:.0%}; "
              f"issue-alert labels: problem words {r['alert_labels']['problem_word']:.0%}", flush=True)
        if not args.quiet:
            for ex in r["examples"]:
                print(f"      {ex}")
            for ex in r["watch_examples"]:
                print(f"      watch {ex}")
    done = [r for r in results if "skipped" not in r]
    for group, rows in (("reported", [r for r in done if r["app"] not in TUNE]), ("tuning", [
            r for r in done if r["app"] in TUNE]), ("all", done)):
        if not rows:
            continue
        mean = {k: float(np.mean([r[k]["f"] for r in rows])) for k in ("lenient", "strict", "lenient_specific",
                                                                       "strict_specific")}
        per_week = float(np.mean([r["per_week"] for r in rows]))
        one_word = float(np.mean([r["one_word_labels"] for r in rows]))
        wmean = {k: float(np.mean([r[k]["f"] for r in rows])) for k in ("watch_lenient", "watch_strict")}
        precision = float(np.mean([r["lenient"]["precision"] for r in rows]))
        pw = float(np.mean([r["watch_labels"]["problem_word"] for r in rows]))
        ow = float(np.mean([r["watch_labels"]["one_word"] for r in rows]))
        print(f"mean over {group} apps ({len(rows)}): RELEASE WATCH F lenient {wmean['watch_lenient']:.3f} "
              f"[goal >= 0.60]  strict {wmean['watch_strict']:.3f} [goal >= 0.20]; labels: problem words "
              f"{pw:.0%} [goal >= 80%], one-word {ow:.0%} [goal <= 10%]; issue alerts {per_week:.2f}/week "
              f"[goal <= 2], alert precision (lenient) {precision:.2f}")
        print(f"mean over {group} apps ({len(rows)}): F lenient {mean['lenient']:.3f}  strict {mean['strict']:.3f}  "
              f"(no generic words {mean['lenient_specific']:.3f} / {mean['strict_specific']:.3f})  "
              f"issue alerts {per_week:.2f}/week, one-word labels {one_word:.0%}   "
              f"[IDEA {IDEA_F}, OLDA {OLDA_F}; goal F >= 0.60 at <= 2/week]")


if __name__ == "__main__":
    main()
