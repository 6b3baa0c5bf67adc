"""Benchmark the competitor comparison report on a large synthetic store.

Builds N synthetic posts (default 1,000,000) over 3 products and 12 months with Core executemany in
chunks (classifications with job-map steps, cross-product links and issues included; the rollups summed as
the posts are written and stored at the end), then times ``build_report`` over whole days and over a period
cut mid-day, and each renderer. Usage::

    .venv/bin/python bench/report.py --posts 100000
    .venv/bin/python bench/report.py --posts 1000000 --db /tmp/bench-report.db --keep
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from store import rollups  # noqa: E402
from store.db import Store  # noqa: E402
from store.models import Classification, Issue, IssuePost, Post, PostProduct, Product  # noqa: E402
from voxpop.report import DEFAULT_QUERY_THREADS, build_report  # noqa: E402
from voxpop.report.render import FORMATS, render_report  # noqa: E402

PRODUCTS = [("ours", "Our App", True), ("rival-a", "Rival A", False), ("rival-b", "Rival B", False)]
JOBS = ["sync", "share", "search", "export", "offline"]
NEEDS = ["problem", "feature_request", "question", "praise", "other"]
SOURCES = ["appstore", "googleplay", "reddit", "hackernews"]
# Job-map steps (the default step ids), most posts on `use` as in real reviews.
STEPS = [("choose", 3), ("get", 3), ("set-up", 5), ("learn", 4), ("use", 70), ("get-help", 7), ("pay", 4),
         ("leave", 4)]
END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=365)
CHUNK = 20_000
# Post texts: a few phrases of very different frequency, so full-text search has rare and common words.
PHRASES = [("sync keeps failing after the update", 8), ("please add a dark mode", 6), ("love the new editor", 10),
           ("export to pdf loses images", 4), ("app crashes when I open a shared notebook", 3),
           ("search is slow on large notebooks", 3), ("offline mode works great on the train", 6),
           ("the widget drains the battery", 1), ("cannot log in with my google account", 2),
           ("attachments upload twice", 1)]


# A post as the rollups read it (the attributes `rollups.add_rows` takes), built from the values written.
_RollupRow = namedtuple("_RollupRow", "id product_id created_at source found_by version language rating status "
                                      "class_id sentiment need_type unmet_need top_job step")


class _Job:
    def __init__(self, id_: str) -> None:
        self.id, self.statement = id_, f"Help me {id_} my notes"


def populate(store: Store, n_posts: int, seed: int = 42) -> None:
    """Insert ``n_posts`` synthetic posts with classifications, extra product links and issues."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    phrases, weights = [p for p, _ in PHRASES], [w for _, w in PHRASES]
    steps, step_weights = [s for s, _ in STEPS], [w for _, w in STEPS]
    with store.engine.begin() as conn:
        conn.execute(insert(Product), [{"id": i + 1, "slug": s, "name": n, "own": o, "created_at": now}
                                       for i, (s, n, o) in enumerate(PRODUCTS)])
    span = (END - START).total_seconds()
    # Per product tilt so the report has real differences to find.
    positive_bias = {1: 0.55, 2: 0.45, 3: 0.35}
    issue_posts: dict[int, list[int]] = {pid: [] for pid in (1, 2, 3)}
    # The rollups are summed from the values written, as an import keeps them, instead of read back from the
    # store afterwards: a rebuild of 10M posts reads every post again (about 45 min on PostgreSQL).
    cells: dict[rollups.Key, rollups.Cell] = {}
    post_id = 0
    t0 = time.perf_counter()
    while post_id < n_posts:
        posts, links, classes, seen = [], [], [], []
        for _ in range(min(CHUNK, n_posts - post_id)):
            post_id += 1
            pid = rng.choice((1, 1, 2, 2, 3)) if rng.random() < 0.9 else rng.choice((1, 2, 3))
            source = rng.choice(SOURCES)
            created = START + timedelta(seconds=rng.random() * span)
            r = rng.random()
            status = "classified" if r < 0.9 else ("skipped" if r < 0.96 else "pending")
            rating = float(rng.randint(1, 5)) if source in ("appstore", "googleplay") else None
            text = f"{rng.choices(phrases, weights)[0]} (synthetic post {post_id})"
            posts.append({"id": post_id, "source": source, "external_id": str(post_id), "product_id": pid,
                          "text": text, "rating": rating, "created_at": created,
                          "fetched_at": created, "content_hash": "x", "status": status,
                          "url": f"https://example.com/p/{post_id}"})
            links.append({"post_id": post_id, "product_id": pid})
            if source in ("reddit", "hackernews") and rng.random() < 0.3:
                links.append({"post_id": post_id, "product_id": pid % 3 + 1})
            sentiment = need = job = step = None
            unmet = False
            if status == "classified":
                s = rng.random()
                sentiment = "positive" if s < positive_bias[pid] else ("neutral" if s < positive_bias[pid] + 0.2
                                                                       else "negative")
                need = rng.choice(NEEDS)
                job = rng.choice(JOBS) if rng.random() < 0.8 else None
                unmet = need in ("problem", "feature_request")
                step = rng.choices(steps, step_weights)[0]
                classes.append({"post_id": post_id, "model_version": "bench", "sentiment": sentiment,
                                "sentiment_score": 0.8, "need_type": need, "need_score": rng.random(),
                                "unmet_need": unmet, "jobs": [{"job": job, "score": 0.7}] if job else [],
                                "top_job": job, "step": step, "step_score": 0.6, "evidence": None,
                                "classified_at": created})
                if unmet and rng.random() < 0.05:
                    issue_posts[pid].append(post_id)
            seen.append(_RollupRow(post_id, pid, created, source, None, None, None, rating, status,
                                   1 if status == "classified" else None, sentiment, need, unmet, job, step))
        linked: dict[int, set[int]] = {}
        for link in links:
            linked.setdefault(link["post_id"], set()).add(link["product_id"])
        rollups.add_rows(cells, seen, linked)
        with store.engine.begin() as conn:
            conn.execute(insert(Post), posts)
            conn.execute(insert(PostProduct), links)
            if classes:
                conn.execute(insert(Classification), classes)
        print(f"\r  inserted {post_id:,} posts ({time.perf_counter() - t0:.0f} s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    with store.engine.begin() as conn:
        issue_id = 0
        for pid, ids in issue_posts.items():
            rng.shuffle(ids)
            for k in range(12):
                members = ids[k::12]
                if not members:
                    continue
                issue_id += 1
                conn.execute(insert(Issue), [{
                    "id": issue_id, "product_id": pid, "label": f"Issue {k} of product {pid}",
                    "keywords": [f"kw{k}", f"kw{k + 1}"], "state": "ongoing" if k % 3 else "rising",
                    "size": len(members), "representative_post_id": members[0], "daily_counts": {}, "stats": {}}])
                conn.execute(insert(IssuePost), [{"issue_id": issue_id, "post_id": m, "similarity": 0.8}
                                                 for m in members])
    # Core inserts bypass the store layer: the rollups are written once from the sums above, as
    # `voxpop rollup --rebuild` writes them.
    t0 = time.perf_counter()
    with store.transaction() as session:
        rollups.rebuild(session, cells=cells)
    print(f"  rollups rebuilt in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def have_or(n_posts: int, store: Store) -> int:
    """How many posts the store holds (the size the goal is for)."""
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Post)) or n_posts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to (re)use; default: a temporary file")
    parser.add_argument("--database-url", "--url", dest="url",
                        help="any database URL instead of --db (e.g. postgresql+psycopg://...)")
    parser.add_argument("--from-posts", action="store_true",
                        help="also time the report built by scanning the posts (the pre-rollup path)")
    parser.add_argument("--keep", action="store_true", help="keep the database for another run")
    parser.add_argument("--days", type=int, default=365, help="report period, ending at the data's end")
    parser.add_argument("--out", type=Path, help="write the rendered reports into this directory")
    args = parser.parse_args()

    tmp = None
    if args.url:
        url = args.url
    else:
        if args.db:
            path = Path(args.db)
        else:
            tmp = tempfile.mkdtemp(prefix="voxpop-bench-")
            path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
    store = Store(url)
    with store.sessions() as session:
        have = session.scalar(select(func.count()).select_from(Post)) or 0
    if have == 0:
        t = time.perf_counter()
        populate(store, args.posts)
        print(f"built store: {args.posts:,} posts in {time.perf_counter() - t:.1f} s ({store.dialect})")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        print(f"reusing store with {have:,} posts ({store.dialect})")

    jobs = {slug: [_Job(j) for j in JOBS] for slug, _, _ in PRODUCTS}
    since = END - timedelta(days=args.days)
    times = []
    for threads in (DEFAULT_QUERY_THREADS, DEFAULT_QUERY_THREADS, 1):
        t, cpu = time.perf_counter(), time.process_time()
        with store.sessions() as session:
            data = build_report(session, [p[0] for p in PRODUCTS], since, END, jobs, threads=threads)
        times.append((time.perf_counter() - t, time.process_time() - cpu))
    # SQLite runs in this process, so CPU time (all threads) is the cost without other load on the machine;
    # PostgreSQL's work is in its own processes (CPU here is the client's share only).
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    goal = 1.0 if have_or(args.posts, store) <= 1_000_000 else 3.0
    best = min(times[:2])
    print(f"build_report (from rollups) over {args.days} days, {len(PRODUCTS)} products, "
          f"{DEFAULT_QUERY_THREADS} query threads: first {times[0][0]:.2f} s wall / {times[0][1]:.2f} s CPU, "
          f"second {times[1][0]:.2f} s wall / {times[1][1]:.2f} s CPU; one connection: {times[2][0]:.2f} s wall "
          f"/ {times[2][1]:.2f} s CPU -- goal < {goal:g} s: wall {'met' if best[0] < goal else 'MISSED'}, "
          f"CPU {'met' if min(t[1] for t in times) < goal else 'MISSED'} "
          f"(volume {sum(p['volume'] for p in data['products']):,} product-posts; {store.dialect}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs)")
    # A period that does not start or end at midnight: its edge days are aggregated from the posts.
    t, cpu = time.perf_counter(), time.process_time()
    with store.sessions() as session:
        build_report(session, [p[0] for p in PRODUCTS], since + timedelta(hours=9, minutes=30),
                     END - timedelta(hours=5), jobs)
    print(f"build_report with a mid-day start and end: {time.perf_counter() - t:.2f} s wall / "
          f"{time.process_time() - cpu:.2f} s CPU")
    if args.from_posts:
        t, cpu = time.perf_counter(), time.process_time()
        with store.sessions() as session:
            raw = build_report(session, [p[0] for p in PRODUCTS], since, END, jobs, from_rollups=False,
                               generated_at=datetime.fromisoformat(data["meta"]["generated_at"]))
        print(f"build_report from the posts (no rollups): {time.perf_counter() - t:.2f} s wall / "
              f"{time.process_time() - cpu:.2f} s CPU; same report: {raw == data}")
    for fmt in FORMATS:
        t = time.perf_counter()
        text = render_report(data, fmt)
        print(f"render {fmt}: {time.perf_counter() - t:.3f} s, {len(text):,} chars")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"report.{fmt}").write_text(text, encoding="utf-8")
    print(f"summary: {data['summary']['text']}")
    store.dispose()
    if tmp and not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
