"""What keeping the rollups costs: on import (upsert) and on saving classifications, against the goals.

Imports N synthetic posts through ``store.repo.upsert_posts`` in batches (as ``voxpop import`` does),
then classifies them through ``store.claims`` (claim, save) with fixed labels, timing the rollup upkeep
inside each (``store.rollups.Tracker``) apart from the rest. Goals (issue 29): upkeep < 10 % of
classify time per post (the encoder's time per post is measured with the packaged model when
``--model`` is given, else taken as 10 ms, DESIGN.md's ~100 texts/s on 2 cores), and an import within
1.5x of the same import without upkeep. Usage::

    .venv/bin/python bench/rollups.py --posts 20000 [--database-url postgresql+psycopg://...] [--model]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import rollups  # noqa: E402
from store.claims import ClassificationRow, claim_pending, save_classifications  # noqa: E402
from store.db import Store  # noqa: E402
from store.repo import PostRecord, ensure_product, upsert_posts  # noqa: E402

BATCH = 1000
CLASSIFY_BATCH = 256
DEFAULT_ENCODER_MS = 10.0


class Timer:
    """Wall and CPU seconds spent in the rollup tracker."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def wrap(self, fn):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall += time.perf_counter() - t
                self.cpu += time.process_time() - c
        return timed


def _records(n: int, start: int, rng: random.Random) -> list[PostRecord]:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    return [PostRecord(source=rng.choice(("appstore", "googleplay", "reddit")), external_id=str(start + i),
                       text=f"synthetic review {start + i} about syncing notes", rating=float(rng.randint(1, 5)),
                       created_at=end - timedelta(seconds=rng.random() * 365 * 86400),
                       version=rng.choice(("1.0", "1.1", "2.0")), language="en")
            for i in range(n)]


def encoder_ms_per_post() -> float:
    """The packaged model's time per post on 64 short reviews (one thread per core)."""
    from classify import Classifier

    classifier = Classifier()
    texts = [f"the app keeps crashing when I sync my notes, version {i}" for i in range(64)]
    classifier.predict(texts[:8])
    t = time.perf_counter()
    classifier.predict(texts)
    return (time.perf_counter() - t) * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--database-url", dest="url", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--model", action="store_true", help="measure the encoder's time per post too")
    parser.add_argument("--import-only", action="store_true",
                        help="time the import alone (no classify step; for large --posts)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="voxpop-bench-rollups-")
    store = Store(args.url or f"sqlite:///{Path(tmp) / 'bench.db'}")
    timer = Timer()
    rollups.Tracker.add = timer.wrap(rollups.Tracker.add)  # type: ignore[method-assign]
    rollups.Tracker.finish = timer.wrap(rollups.Tracker.finish)  # type: ignore[method-assign]
    rng = random.Random(1)
    with store.transaction() as session:
        pid = ensure_product(session, "bench").id
    t, cpu = time.perf_counter(), time.process_time()
    for start in range(0, args.posts, BATCH):
        with store.transaction() as session:
            upsert_posts(session, pid, _records(min(BATCH, args.posts - start), start, rng))
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    imp = (wall, cpu, timer.wall, timer.cpu)
    timer.wall = timer.cpu = 0.0
    t, cpu0 = time.perf_counter(), time.process_time()
    saved = 0
    while not args.import_only:
        with store.transaction() as session:
            claimed = claim_pending(session, "bench", CLASSIFY_BATCH)
            if not claimed:
                break
            rows = [ClassificationRow(post_id=p.id, model_version="bench", sentiment=rng.choice(
                ("negative", "neutral", "positive")), sentiment_score=0.9, need_type="problem", need_score=0.8,
                unmet_need=True, jobs=[{"job": rng.choice(("sync", "share")), "score": 0.7}], evidence=None,
                embedding=os.urandom(384 * 4)) for p in claimed]
            saved += save_classifications(session, "bench", rows)
    cls = (time.perf_counter() - t, time.process_time() - cpu0, timer.wall, timer.cpu)
    encoder_ms = encoder_ms_per_post() if args.model else DEFAULT_ENCODER_MS
    load = os.getloadavg()
    upkeep_ms = cls[2] * 1000 / max(1, saved)
    print(f"{store.dialect}, {args.posts:,} posts; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs")
    print(f"import: {imp[0]:.2f} s wall / {imp[1]:.2f} s CPU, of which rollup upkeep {imp[2]:.2f} s wall / "
          f"{imp[3]:.2f} s CPU -> {imp[0] / max(1e-9, imp[0] - imp[2]):.2f}x the import without upkeep "
          f"(goal <= 1.5x)")
    if args.import_only:
        store.dispose()
        return
    print(f"classify store side: {cls[0]:.2f} s wall / {cls[1]:.2f} s CPU for {saved:,} posts, of which upkeep "
          f"{cls[2]:.2f} s wall / {cls[3]:.2f} s CPU = {upkeep_ms:.3f} ms per post; encoder "
          f"{encoder_ms:.1f} ms per post ({'measured' if args.model else 'assumed'}) -> upkeep "
          f"{100 * upkeep_ms / (encoder_ms + cls[0] * 1000 / max(1, saved)):.1f} % of classify time per post "
          f"(goal < 10 %)")
    with store.sessions() as session:
        print(f"rollups verified against the posts: {rollups.verify(session)}")
    store.dispose()


if __name__ == "__main__":
    main()
