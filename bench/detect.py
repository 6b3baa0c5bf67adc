"""Detection benchmark on a real review stream: false-alarm load, detection delay, replay speed.

    .venv/bin/python bench/detect.py [--data PATH] [--skip-100k]

1. Replays the SwiftKey 2012 Google Play stream (6.5k reviews, 70 days) day by day with the backtest
   code path and counts the alerts that fire on the untouched stream (alerts per week).
2. Injects a synthetic emerging issue (reviews written here, about one new problem) at several known
   days, mixed in at a realistic rate, and reports the detection delay in days.
3. Times the replay per simulated day, and replays a 100k-post stream (the real one repeated with
   perturbed embeddings, dates shifted) in memory and through ``backtest`` on SQLite.

Embeddings come from the project's encoder (``classify.Classifier().embed`` when present, else
``classify.encoder.Encoder``), cached under /tmp. Unmet-need flags and sentiment come from the
classifier when it exists, else from the documented proxy: rating <= 2 means an unmet need and a
negative post.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The detector's matrix products are small: BLAS worker threads only add contention on a busy machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from alerts.detect import Detector, Params, PostRow, end_of_day  # noqa: E402
from classify.training.data import DEFAULT_DATA_DIR  # noqa: E402

DATA = DEFAULT_DATA_DIR / "timeseries/swiftkey_2012_reviews.jsonl"  # ../shared/data, or VOXPOP_DATA_DIR
CACHE = Path(tempfile.gettempdir()) / "voxpop_bench_detect"
WARMUP_DAYS = 14

# A new problem nobody mentions in the real stream, phrased the many ways people write reviews.
INJECTED = [
    "since the latest update the keyboard eats the last word whenever i hit the space bar",
    "space bar deletes the word i just typed, started after yesterday's update",
    "new version: pressing space removes my previous word. unusable",
    "every time i press space the last word disappears. please fix asap",
    "update broke the space key, it wipes out the word before it",
    "hitting space erases the word i typed. this is new since the update",
    "the word before the cursor vanishes when i tap space, very annoying bug",
    "after updating, space bar keeps deleting words instead of adding a space",
    "typing a sentence is impossible now, space deletes the previous word",
    "bug: tapping the spacebar removes the last typed word",
    "my words get deleted when i press the space key, started today",
    "space key is broken after the update, it deletes what i typed",
    "why does the space bar delete my last word now? worked fine last week",
    "last word gets erased on space press. please roll back the update",
    "the update introduced a bug where space removes the word before it",
    "can't type anymore, each space press wipes my last word",
    "spacebar deleting words after the newest update, 1 star until fixed",
    "pressing space deletes the word instead of inserting a space",
    "keyboard deletes previous word when i press space since update",
    "space button erases my words. terrible update",
]
INJECT_STARTS = ("2012-10-30", "2012-11-08", "2012-11-20", "2012-11-29", "2012-12-08")
INJECT_RATE = (2, 3, 4, 4, 3, 3, 2)  # posts per day over a week: about 2-4 % of the daily volume


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    rows.sort(key=lambda r: (r["date"], str(r["id"])))
    return rows


def _embedder() -> tuple[Any, str]:
    try:
        from classify import Classifier  # type: ignore[attr-defined]

        model = Classifier()
        if hasattr(model, "embed"):
            return model.embed, "classify.Classifier().embed"
    except Exception:  # noqa: BLE001 - fall back to the bare encoder
        pass
    from classify.encoder import Encoder

    encoder = Encoder(batch_size=32, max_tokens=128)
    return encoder.encode, "classify.encoder.Encoder (all-MiniLM-L6-v2)"


def embeddings(texts: list[str], tag: str, embed: Any = None) -> tuple[np.ndarray, str]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{tag}-{len(texts)}.npy"
    if path.exists():
        return np.load(path), f"cached {path}"
    embed, how = (embed, "given") if embed is not None else _embedder()
    started = time.perf_counter()
    out = np.asarray(embed(texts), dtype=np.float32)
    np.save(path, out)
    return out, f"{how}, {len(texts)} texts in {time.perf_counter() - started:.1f} s"


def flags(rows: list[dict[str, Any]], proxy: bool = False) -> tuple[list[bool], list[bool], str]:
    """Unmet-need and negative flags: the classifier's when available (and not ``proxy``), else rating <= 2."""
    try:
        if proxy:
            raise RuntimeError("proxy asked for")
        from classify import Classifier  # type: ignore[attr-defined]

        preds = Classifier().predict([r["text"] for r in rows])
        unmet = [bool(getattr(p, "unmet_need", p.need_type in ("problem", "feature_request"))) for p in preds]
        negative = [p.sentiment == "negative" for p in preds]
        return unmet, negative, "classifier predictions"
    except Exception:  # noqa: BLE001
        low = [float(r.get("rating") or 3) <= 2 for r in rows]
        return low, low, "proxy: rating <= 2 is an unmet need and a negative post"


def to_posts(rows: list[dict[str, Any]], emb: np.ndarray, unmet: list[bool], negative: list[bool],
             start_id: int = 1) -> list[PostRow]:
    out = []
    for i, r in enumerate(rows):
        at = datetime.fromisoformat(r["date"].replace("Z", "+00:00")).astimezone(UTC)
        out.append(PostRow(id=start_id + i, created_at=at, embedding=emb[i], unmet=unmet[i],
                           need_type="problem" if unmet[i] else "none", rating=float(r.get("rating") or 0) or None,
                           negative=negative[i], text=r["text"]))
    return out


def run(posts: list[PostRow], params: Params, start: date, end: date) -> tuple[list[tuple[date, Any, Detector]], float]:
    """Replay day by day; returns (day, event, detector) for every event from ``start``, and the seconds taken."""
    by_day: dict[date, list[PostRow]] = {}
    for p in posts:
        by_day.setdefault(p.created_at.date(), []).append(p)
    detector = Detector(params)
    last = None
    fired = []
    t0 = time.perf_counter()
    day = min(by_day)
    while day <= end:
        events, last = detector.run(by_day.get(day, []), end_of_day(day), last_evaluated=last, emit_from=start)
        fired += [(day, e, detector) for e in events]
        detector.prune_totals(day)
        day += timedelta(days=1)
    return fired, time.perf_counter() - t0


def members(detector: Detector, key: int) -> set[int]:
    cluster = detector.clusters.get(key)
    return {pid for pid, _ in cluster.added} if cluster else set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--skip-100k", action="store_true")
    parser.add_argument("--join", type=float, default=None, help="override join_similarity")
    parser.add_argument("--sensitivity", type=float, default=None)
    parser.add_argument("--min-count", type=int, default=None)
    parser.add_argument("--proxy", action="store_true", help="rating <= 2 as the unmet-need flag, no classifier")
    args = parser.parse_args()

    from voxpop.config import AlertSpec

    spec = AlertSpec()
    params = Params.from_spec(spec)
    overrides = {k: v for k, v in {"join_similarity": args.join, "sensitivity": args.sensitivity,
                                   "min_count": args.min_count}.items() if v is not None}
    if overrides:
        params = Params(**{**params.__dict__, **overrides})
    rows = load_rows(args.data)
    emb, emb_how = embeddings([r["text"] for r in rows], "swiftkey")
    unmet, negative, flag_how = flags(rows, args.proxy)
    posts = to_posts(rows, emb, unmet, negative)
    first, last = posts[0].created_at.date(), posts[-1].created_at.date()
    start = first + timedelta(days=WARMUP_DAYS)
    n_days = (last - start).days + 1
    print(f"data: {args.data.name}: {len(posts)} posts, {first} .. {last}, {sum(unmet)} unmet needs")
    print(f"embeddings: {emb_how}")
    print(f"unmet-need flags: {flag_how}")
    print(f"params: {params}")

    # 1. untouched stream: false-alarm load
    fired, seconds = run(posts, params, start, last)
    kinds = Counter(e.kind for _, e, _ in fired)
    per_week = len(fired) / (n_days / 7)
    issue_per_week = sum(1 for _, e, _ in fired if e.kind.startswith("issue_")) / (n_days / 7)
    print(f"\n[untouched] {len(fired)} alerts in {n_days} days after a {WARMUP_DAYS}-day warm-up: "
          f"{per_week:.2f} alerts/week ({issue_per_week:.2f} issue alerts/week); by kind {dict(kinds)}")
    for day, e, det in fired:
        cluster = det.clusters.get(e.key) if e.key is not None else None
        label = ""
        if cluster is not None:
            from alerts.labels import label_issue

            texts = [p.text for p in posts if p.id in members(det, e.key)][-60:]
            label = label_issue(texts, None, [p.text for p in posts[-1000:]])[0]
        print(f"    {day} {e.kind:15s} p={e.figures.get('p_value', 0):.1e} "
              f"count={e.figures.get('count')} {label}")
    print(f"[speed] replay of {len(posts)} posts over {(last - first).days + 1} days: {seconds:.2f} s, "
          f"{1000 * seconds / ((last - first).days + 1):.1f} ms per simulated day")

    # 2. injected emerging issue at known days
    inj_emb, _ = embeddings(INJECTED, "injected")
    rng = np.random.default_rng(42)
    delays = []
    extra_alerts = []
    for k, day0 in enumerate(INJECT_STARTS):
        d0 = date.fromisoformat(day0)
        injected: list[PostRow] = []
        next_id = 10_000_000 + 1000 * k
        for offset, n in enumerate(INJECT_RATE):
            for j in range(n):
                idx = int(rng.integers(len(INJECTED)))
                at = datetime(d0.year, d0.month, d0.day, 6 + 2 * j, int(rng.integers(60)), tzinfo=UTC)
                at += timedelta(days=offset)
                injected.append(PostRow(id=next_id, created_at=at, embedding=inj_emb[idx], unmet=True,
                                        need_type="problem", rating=1.0, negative=True, text=INJECTED[idx]))
                next_id += 1
        ids = {p.id for p in injected}
        mixed = sorted(posts + injected, key=lambda p: (p.created_at, p.id))
        got, _ = run(mixed, params, start, last)
        hit = [(day, e) for day, e, det in got if e.key is not None and members(det, e.key) & ids]
        delay = (hit[0][0] - d0).days if hit else None
        delays.append(delay)
        extra_alerts.append(len(got) - len(hit))
        what = f"{hit[0][1].kind} on {hit[0][0]} (p={hit[0][1].figures['p_value']:.1e})" if hit else "MISSED"
        print(f"[inject] {len(injected)} posts from {day0} ({'/'.join(map(str, INJECT_RATE))} a day): "
              f"delay {delay} day(s): {what}")
    caught = [d for d in delays if d is not None]
    print(f"[inject] caught {len(caught)}/{len(delays)}; delay days {delays}; "
          f"mean {np.mean(caught) if caught else float('nan'):.2f}, max {max(caught) if caught else 'n/a'}")

    if args.skip_100k:
        return
    # 3. 100k posts: the real stream repeated with perturbed embeddings, dates shifted by 70 days each round
    span = (last - first).days + 1
    big: list[PostRow] = []
    rounds = -(-100_000 // len(posts))
    for r in range(rounds):
        noise = rng.normal(scale=0.02, size=emb.shape).astype(np.float32)
        e2 = emb + noise
        e2 /= np.linalg.norm(e2, axis=1, keepdims=True)
        for i, p in enumerate(posts):
            if len(big) >= 100_000:
                break
            big.append(PostRow(id=len(big) + 1, created_at=p.created_at + timedelta(days=span * r), embedding=e2[i],
                               unmet=p.unmet, need_type=p.need_type, rating=p.rating, negative=p.negative,
                               text=p.text))
    b_first, b_last = big[0].created_at.date(), big[-1].created_at.date()
    got, seconds = run(big, params, b_first + timedelta(days=WARMUP_DAYS), b_last)
    n_big_days = (b_last - b_first).days + 1
    print(f"\n[100k] in memory: {len(big)} posts over {n_big_days} days replayed in {seconds:.1f} s "
          f"({1000 * seconds / n_big_days:.1f} ms per simulated day); {len(got)} alerts "
          f"= {len(got) / ((n_big_days - WARMUP_DAYS) / 7):.2f}/week")
    store_bench(big, b_first, b_last)


def store_bench(big: list[PostRow], first: date, last: date) -> None:
    """Time ``backtest`` through a SQLite store holding the 100k posts (classification done beforehand)."""
    from sqlalchemy import insert

    from alerts.issues import backtest
    from store.db import Store
    from store.models import Classification, Post, PostProduct, Product
    from voxpop.config import parse_config

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        with store.transaction() as session:
            session.add(Product(id=1, slug="swiftkey", name="SwiftKey", own=True, created_at=now))
            session.flush()
            session.execute(insert(Post), [
                {"id": p.id, "source": "bench", "external_id": str(p.id), "product_id": 1, "text": p.text,
                 "rating": p.rating, "created_at": p.created_at, "fetched_at": now, "content_hash": str(p.id),
                 "status": "classified"} for p in big])
            session.execute(insert(PostProduct), [{"post_id": p.id, "product_id": 1} for p in big])
            session.execute(insert(Classification), [
                {"post_id": p.id, "model_version": "bench", "sentiment": "negative" if p.negative else "positive",
                 "sentiment_score": 0.9, "need_type": p.need_type, "need_score": 0.9, "unmet_need": p.unmet,
                 "jobs": [], "embedding": np.asarray(p.embedding, np.float32).tobytes(), "classified_at": now}
                for p in big])
        load_s = time.perf_counter() - t0
        config = parse_config({"products": [{"slug": "swiftkey", "name": "SwiftKey", "own": True}]}, "bench.toml")
        t0 = time.perf_counter()
        days = backtest(store, config, "swiftkey", first + timedelta(days=WARMUP_DAYS), last)
        seconds = time.perf_counter() - t0
        n = sum(len(d["alerts"]) for d in days)
        print(f"[100k] through the store: backtest over {len(days)} days took {seconds:.1f} s "
              f"(reading posts and embeddings included; {n} alerts); loading the bench database took {load_s:.1f} s")
        store.dispose()


if __name__ == "__main__":
    main()
