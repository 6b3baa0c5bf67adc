"""Competitor comparison: GROUP BY queries on the store turned into one JSON-able dict.

The dict returned by :func:`build_report` is the single source every renderer reads (HTML, Markdown,
CSV, JSON). Nothing here loads posts into Python: each figure comes from an aggregate query over the
period ``[since, until)``, and Python only combines the grouped rows and does the interval arithmetic.

A post belongs to every product it is linked to: its own ``posts.product_id`` plus any extra links in
``post_products`` (community posts that name several products). Shares always carry their ``n``;
differences carry a 95 % interval (Wilson per share, Newcombe for differences of shares, Welch for
differences of mean ratings) and are marked when the interval contains zero. Groups smaller than
``min_n`` are flagged as small and never ranked.
"""

from __future__ import annotations

import math
import os
import queue
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, case, func, literal_column, select, text
from sqlalchemy.orm import Session

from alerts import stats
from store.models import POST_SKIPPED, Classification, Issue, IssuePost, Post, PostProduct, Product
from voxpop.config import AlertSpec

DEFAULT_MIN_N = 30
DEFAULT_TOP_NEEDS = 5
MATCH_SIMILARITY = AlertSpec.match_similarity  # the [alerts] default; one constant for the whole system
SENTIMENT_ORDER = ("positive", "neutral", "negative")
INACTIVE_ISSUE_STATES = ("candidate", "resolved")
SECONDS_PER_WEEK = 7 * 86400
DEFAULT_QUERY_THREADS = min(4, os.cpu_count() or 1)
# temp_store=2 is MEMORY; cache_size negative is KiB (256 MiB); mmap_size in bytes (1 GiB).
SQLITE_REPORT_PRAGMAS = {"temp_store": 2, "cache_size": -262144, "mmap_size": 1 << 30}


class JobLike(Protocol):
    """Anything with a job ``id`` and a ``statement`` (config.JobSpec)."""

    @property
    def id(self) -> str: ...

    @property
    def statement(self) -> str: ...


class ReportError(ValueError):
    """The report cannot be built as asked (unknown product, empty period)."""


def build_report(session: Session, products: Sequence[str] | None, since: datetime, until: datetime,
                 jobs_by_product: Mapping[str, Sequence[JobLike]] | None = None, *, min_n: int = DEFAULT_MIN_N,
                 top_needs: int = DEFAULT_TOP_NEEDS, generated_at: datetime | None = None,
                 threads: int = DEFAULT_QUERY_THREADS) -> dict[str, Any]:
    """Compare products over ``[since, until)`` and return the report as a JSON-able dict.

    Args:
        session: an open session (read only).
        products: product slugs in display order, or None for every product in the store.
        since: period start (inclusive), timezone-aware or UTC.
        until: period end (exclusive).
        jobs_by_product: configured jobs per product slug; None (or none configured for these products)
            uses the job ids found in the data.
        min_n: samples smaller than this are flagged and not ranked.
        top_needs: how many unmet needs to list per product.
        generated_at: the report's timestamp (default now).
        threads: how many connections run the aggregate queries at once (reads of committed data;
            1 keeps every query on ``session``).
    """
    since, until = _utc(since), _utc(until)
    if until <= since:
        raise ReportError(f"empty period: until {until.isoformat()} is not after since {since.isoformat()}")
    rows = _load_products(session, products)
    ids = [r.id for r in rows]
    dialect = session.get_bind().dialect.name
    anchor = datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(days=since.weekday())
    n_weeks = math.ceil((until - anchor).total_seconds() / SECONDS_PER_WEEK)
    weeks = [(anchor + timedelta(weeks=i)).date().isoformat() for i in range(n_weeks)]
    mid = since + (until - since) / 2

    # The slow class cube first, so the threads finish together.
    queries = (_class_queries(dialect, ids, since, until, anchor, mid)
               + _volume_queries(dialect, ids, since, until, anchor, mid))
    cubes = _run_cubes(session, dialect, queries, threads)
    volume_rows, class_rows = cubes["volume"], cubes["class"]
    issue_rows = _issue_counts(session, ids, since, until, mid)

    slug_of = {r.id: r.slug for r in rows}
    own = next((r.slug for r in rows if r.own), None)
    baseline = own or (rows[0].slug if rows else None)
    jobs = _job_list(jobs_by_product, class_rows, slug_of)

    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        per[r.slug] = _product_figures(r, volume_rows.get(r.id, []), class_rows.get(r.id, []), weeks, jobs, min_n)
    _share_of_voice(per, volume_rows, slug_of, min_n)

    issues = _load_issues(session, issue_rows)
    class_needs = _class_needs(session, class_rows)
    for r in rows:
        per[r.slug]["top_unmet_needs"] = _top_needs(issues.get(r.id, []), class_needs.get(r.id, []),
                                                    jobs, top_needs, min_n)

    comparisons = _comparisons(per, baseline, jobs, min_n) if baseline else []
    gaps = _gaps(issues, slug_of, own)
    data: dict[str, Any] = {
        "meta": {
            "generated_at": _utc(generated_at or datetime.now(UTC)).isoformat(),
            "since": since.isoformat(), "until": until.isoformat(), "dialect": dialect,
            "products": [r.slug for r in rows], "own": own, "baseline": baseline,
            "min_n": min_n, "confidence": 0.95, "weeks": weeks,
            "methods": {
                "share": "Wilson score interval, 95 %",
                "difference": "Newcombe hybrid score interval (method 10), 95 %; mean rating: normal, Welch SE",
                "opportunity": "importance + max(importance - satisfaction, 0), shares 0-1, times 5 (0-10)",
                "importance": "share of the product's classified posts whose top job is this job",
                "satisfaction": "share of the job's posts with positive sentiment",
                "weeks": "Monday-aligned UTC weeks; the first and last may be partial",
                "trend": "count in the second half of the period minus the first half",
                "evidence": "an issue's representative post; for needs from classifications, the newest post",
            },
        },
        "jobs": jobs,
        "products": [per[r.slug] for r in rows],
        "comparisons": comparisons,
        "gaps": gaps,
    }
    data["summary"] = summarise(data)
    return data


# -- queries -----------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def _sqlite_tuned(session: Session | Connection, dialect: str) -> Iterator[None]:
    """On SQLite, sort in memory with a larger page cache and memory-mapped reads; restored afterwards."""
    if dialect != "sqlite":
        yield
        return
    names = ("temp_store", "cache_size", "mmap_size")
    old = {name: session.execute(text(f"PRAGMA {name}")).scalar() for name in names}
    for name, new in SQLITE_REPORT_PRAGMAS.items():
        session.execute(text(f"PRAGMA {name}={int(new)}"))
    try:
        yield
    finally:
        for name in names:
            before = old[name]
            if before is not None:
                session.execute(text(f"PRAGMA {name}={int(before)}"))


def _load_products(session: Session, slugs: Sequence[str] | None) -> list[Any]:
    query = select(Product.id, Product.slug, Product.name, Product.own)
    if slugs is None:
        return list(session.execute(query.order_by(Product.own.desc(), Product.slug)).all())
    found = {r.slug: r for r in session.execute(query.where(Product.slug.in_(list(slugs))))}
    missing = [s for s in slugs if s not in found]
    if missing:
        known = ", ".join(sorted(session.scalars(select(Product.slug)))) or "none"
        raise ReportError(f"unknown product(s): {', '.join(missing)} (known: {known})")
    return [found[s] for s in dict.fromkeys(slugs)]


def _ranges(since: datetime, until: datetime, anchor: datetime,
            mid: datetime) -> list[tuple[datetime, datetime, int, int]]:
    """The period cut at week boundaries and at its midpoint: (start, end, week index, half)."""
    cuts = {since, until, mid}
    t = anchor + timedelta(weeks=1)
    while t < until:
        if t > since:
            cuts.add(t)
        t += timedelta(weeks=1)
    points = sorted(cuts)
    return [(a, b, int((a - anchor).total_seconds() // SECONDS_PER_WEEK), int(a >= mid))
            for a, b in zip(points, points[1:], strict=False)]


def _multi_linked() -> Any:
    """Posts linked to more than one product (streams the post_products primary key in order, no sort)."""
    return (select(PostProduct.post_id).group_by(PostProduct.post_id)
            .having(func.count() > 1).subquery("multi"))


def _extra_scope(query: Any, ids: list[int], since: datetime, until: datetime) -> Any:
    """Restrict a query to the extra links (post_products rows other than the post's own product)."""
    multi = _multi_linked()
    return (query.select_from(multi)
            .join(PostProduct, PostProduct.post_id == multi.c.post_id)
            .join(Post, Post.id == multi.c.post_id)
            .where(PostProduct.product_id != Post.product_id, PostProduct.product_id.in_(ids),
                   Post.created_at >= since, Post.created_at < until))


def _week_expr(dialect: str, anchor: datetime) -> Any:
    epoch = int(anchor.timestamp())
    if dialect == "postgresql":
        return literal_column(
            f"CAST(floor((extract(epoch FROM posts.created_at) - {epoch}) / {SECONDS_PER_WEEK}) AS INTEGER)")
    return literal_column(f"((CAST(strftime('%s', posts.created_at) AS INTEGER) - {epoch}) / {SECONDS_PER_WEEK})")


def _star_expr(dialect: str) -> Any:
    # Round half up the same way on both dialects (PostgreSQL's CAST rounds half to even).
    if dialect == "postgresql":
        return literal_column("CAST(floor(posts.rating + 0.5) AS INTEGER)")
    return literal_column("CAST(posts.rating + 0.5 AS INTEGER)")


@dataclass(frozen=True)
class _CubeQuery:
    """One GROUP BY query of a cube; ``week``/``half`` are None when its rows carry those columns."""

    cube: str
    query: Any
    week: int | None = None
    half: int | None = None


def _cube_queries(cube: str, dialect: str, ids: list[int], since: datetime, until: datetime, anchor: datetime,
                  mid: datetime, dims: list[Any], measures: list[Any], join_class: bool) -> list[_CubeQuery]:
    """GROUP BY product and ``dims``, with a week index and period half for every row.

    On SQLite a post's own product is read through the covering index one week at a time (SQLite
    groups by sorting, and many small sorts beat one big one; they also spread over threads);
    PostgreSQL hash-aggregates the whole period in one query with a week expression. The few extra
    links of multi-product posts are grouped in one query with the week expression on both.
    """
    if not ids:
        return []

    def joined(query: Any) -> Any:
        if not join_class:
            return query
        # A skipped post keeps no reading, even if an older classification row is left over.
        return query.join(Classification, Classification.post_id == Post.id).where(Post.status != POST_SKIPPED)

    week_col = _week_expr(dialect, anchor).label("week")
    half_col = case((Post.created_at >= mid, 1), else_=0).label("half")
    own = Post.product_id.label("pid")
    queries: list[_CubeQuery] = []
    if dialect == "postgresql":
        queries.append(_CubeQuery(cube, joined(select(own, week_col, half_col, *dims, *measures).select_from(Post))
                                  .where(Post.product_id.in_(ids), Post.created_at >= since, Post.created_at < until)
                                  .group_by(own, week_col, half_col, *dims)))
    else:
        for start, end, week, half in _ranges(since, until, anchor, mid):
            query = joined(select(own, *dims, *measures).select_from(Post)).where(
                Post.product_id.in_(ids), Post.created_at >= start, Post.created_at < end).group_by(own, *dims)
            queries.append(_CubeQuery(cube, query, week, half))
    pid = PostProduct.product_id.label("pid")
    extra = _extra_scope(select(pid, week_col, half_col, *dims, *measures), ids, since, until)
    queries.append(_CubeQuery(cube, joined(extra).group_by(pid, week_col, half_col, *dims)))
    return queries


def _volume_queries(dialect: str, ids: list[int], since: datetime, until: datetime, anchor: datetime,
                    mid: datetime) -> list[_CubeQuery]:
    """Posts by product, week, source, status and star, with rating sums (posts' covering index only)."""
    dims = [Post.source, Post.status, _star_expr(dialect).label("star")]
    measures = [func.count().label("n"), func.sum(Post.rating).label("r_sum"),
                func.sum(Post.rating * Post.rating).label("r_sq")]
    return _cube_queries("volume", dialect, ids, since, until, anchor, mid, dims, measures, join_class=False)


def _class_queries(dialect: str, ids: list[int], since: datetime, until: datetime, anchor: datetime,
                   mid: datetime) -> list[_CubeQuery]:
    """Classified posts by product, week, need type, unmet need, top job and sentiment; newest post id."""
    dims = [Classification.need_type, Classification.unmet_need, Classification.top_job, Classification.sentiment]
    measures = [func.count().label("n"), func.max(Post.id).label("latest")]
    return _cube_queries("class", dialect, ids, since, until, anchor, mid, dims, measures, join_class=True)


def _run_cubes(session: Session, dialect: str, queries: list[_CubeQuery],
               threads: int) -> dict[str, dict[int, list[tuple[int, int, Any]]]]:
    """Run every cube query and group the rows as ``{cube: {product id: [(week, half, row)]}}``."""
    out: dict[str, dict[int, list[tuple[int, int, Any]]]] = {"volume": defaultdict(list), "class": defaultdict(list)}
    for item, rows in zip(queries, _execute_all(session, dialect, [q.query for q in queries], threads), strict=True):
        for row in rows:
            week = row.week if item.week is None else item.week
            half = row.half if item.half is None else item.half
            out[item.cube][row.pid].append((week, half, row))
    return out


def _execute_all(session: Session, dialect: str, queries: list[Any], threads: int) -> list[list[Any]]:
    """The rows of each query, in order; on up to ``threads`` connections of the session's engine at once.

    The queries are independent reads of committed data, and both drivers release the GIL while the
    database works, so a report uses every core. With one thread (or a bind that is not an engine,
    or an in-memory SQLite database) they run on the session's own connection.
    """
    bind = session.get_bind()
    if threads <= 1 or len(queries) <= 1 or not isinstance(bind, Engine) or bind.url.database in (None, "", ":memory:"):
        with _sqlite_tuned(session, dialect):
            return [list(session.execute(query)) for query in queries]
    results: list[list[Any]] = [[] for _ in queries]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(queries)):
        todo.put(index)

    def drain() -> None:
        with bind.connect() as connection, _sqlite_tuned(connection, dialect):
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                results[index] = list(connection.execute(queries[index]))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="report-sql") as pool:
        for future in [pool.submit(drain) for _ in range(threads)]:
            future.result()
    return results


def _issue_counts(session: Session, ids: list[int], since: datetime, until: datetime,
                  mid: datetime) -> dict[int, tuple[int, int, int]]:
    """Per issue of the products: (product id, posts in the period, posts in its second half)."""
    if not ids:
        return {}
    later = func.sum(case((Post.created_at >= mid, 1), else_=0))
    query = (
        select(IssuePost.issue_id, Issue.product_id, func.count().label("n"), later.label("later"))
        .select_from(IssuePost)
        .join(Issue, Issue.id == IssuePost.issue_id)
        .join(Post, Post.id == IssuePost.post_id)
        .where(Issue.product_id.in_(ids), Post.created_at >= since, Post.created_at < until)
        .group_by(IssuePost.issue_id, Issue.product_id)
    )
    return {row.issue_id: (row.product_id, int(row.n), int(row.later or 0)) for row in session.execute(query)}


def _load_issues(session: Session, counts: Mapping[int, tuple[int, int, int]]) -> dict[int, list[dict[str, Any]]]:
    """The issues that have posts in the period, with their counts and representative evidence."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not counts:
        return out
    issue_ids = list(counts)
    found: list[Any] = []
    for start in range(0, len(issue_ids), 500):
        chunk = issue_ids[start:start + 500]
        found.extend(session.execute(
            select(Issue.id, Issue.label, Issue.keywords, Issue.state, Issue.need_type, Issue.centroid,
                   Issue.representative_post_id).where(Issue.id.in_(chunk))
        ).all())
    evidence = _evidence(session, [r.representative_post_id for r in found if r.representative_post_id])
    for r in found:
        pid, n, later = counts[r.id]
        ev = evidence.get(r.representative_post_id or -1, {})
        out[pid].append({
            "source": "issue", "issue_id": r.id, "label": r.label, "keywords": list(r.keywords or []),
            "state": r.state, "need_type": r.need_type, "count": n, "first_half": n - later, "second_half": later,
            "trend": later - (n - later), "evidence": ev.get("evidence"), "url": ev.get("url"),
            "centroid": r.centroid,
        })
    return out


def _evidence(session: Session, post_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = sorted(set(post_ids))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        query = (
            select(Post.id, Post.url, func.substr(Post.text, 1, 400).label("text"), Classification.evidence)
            .outerjoin(Classification, Classification.post_id == Post.id).where(Post.id.in_(chunk))
        )
        for row in session.execute(query):
            quote = (row.evidence or row.text or "").strip()
            out[row.id] = {"evidence": _clip(quote, 280), "url": safe_url(row.url)}
    return out


def _class_needs(session: Session, class_rows: Mapping[int, list[Any]]) -> dict[int, list[dict[str, Any]]]:
    """Unmet needs from classifications, grouped by top job, each with its newest post as evidence."""
    counts: dict[tuple[int, str | None], list[int]] = defaultdict(lambda: [0, 0])
    latest: dict[tuple[int, str | None], int] = {}
    for pid, rows in class_rows.items():
        for _, half, row in rows:
            if row.unmet_need:
                key = (pid, row.top_job)
                counts[key][int(half)] += int(row.n)
                latest[key] = max(latest.get(key, 0), int(row.latest))
    evidence = _evidence(session, latest.values())
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (pid, job), (first, second) in counts.items():
        ev = evidence.get(latest[(pid, job)], {})
        out[pid].append({
            "source": "classification", "issue_id": None, "label": None, "job": job, "state": None,
            "count": first + second, "first_half": first, "second_half": second, "trend": second - first,
            "evidence": ev.get("evidence"), "url": ev.get("url"),
        })
    return out


# -- figures -----------------------------------------------------------------------------------


def share(x: int, n: int, min_n: int = DEFAULT_MIN_N) -> dict[str, Any]:
    """A share with its count, base, Wilson interval and small-sample flag."""
    ci = stats.wilson(x, n)
    return {"x": x, "n": n, "p": x / n if n else None, "ci": list(ci) if ci else None, "small": n < min_n}


def _job_list(jobs_by_product: Mapping[str, Sequence[JobLike]] | None, class_rows: Mapping[int, list[Any]],
              slug_of: Mapping[int, str]) -> list[dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = {}
    if not jobs_by_product or not any(jobs_by_product.get(slug) for slug in slug_of.values()):
        # No jobs configured for these products: report the jobs the classifier found.
        for pid, rows in class_rows.items():
            for _, _, row in rows:
                if row.top_job:
                    jobs.setdefault(row.top_job, {"id": row.top_job, "statement": row.top_job, "products": []})
                    if slug_of[pid] not in jobs[row.top_job]["products"]:
                        jobs[row.top_job]["products"].append(slug_of[pid])
        return [jobs[k] for k in sorted(jobs)]
    for slug in slug_of.values():
        for job in jobs_by_product.get(slug, ()):
            entry = jobs.setdefault(job.id, {"id": job.id, "statement": job.statement, "products": []})
            entry["products"].append(slug)
    return list(jobs.values())


def _product_figures(product: Any, vrows: list[Any], crows: list[Any], weeks: list[str],
                     jobs: list[dict[str, Any]], min_n: int) -> dict[str, Any]:
    total = classified = skipped = 0
    sentiment: dict[str, int] = defaultdict(int)
    stars: dict[int, int] = defaultdict(int)
    r_n, r_sum, r_sq = 0, 0.0, 0.0
    by_source: dict[str, int] = defaultdict(int)
    weekly: list[dict[str, Any]] = [{"week": w, "n": 0, "classified": 0, **{s: 0 for s in SENTIMENT_ORDER}}
                                    for w in weeks]
    last = len(weeks) - 1
    for week, _, row in vrows:
        n = int(row.n)
        total += n
        by_source[row.source] += n
        weekly[min(max(int(week), 0), last)]["n"] += n
        if row.status == POST_SKIPPED:
            skipped += n
        if row.star is not None:
            stars[int(row.star)] += n
            r_n += n
            r_sum += float(row.r_sum or 0.0)
            r_sq += float(row.r_sq or 0.0)
    need: dict[str, int] = defaultdict(int)
    unmet = 0
    job_n: dict[str | None, int] = defaultdict(int)
    job_pos: dict[str | None, int] = defaultdict(int)
    for week, _, row in crows:
        n = int(row.n)
        classified += n
        sentiment[row.sentiment] += n
        w = weekly[min(max(int(week), 0), last)]
        w["classified"] += n
        w[row.sentiment] = w.get(row.sentiment, 0) + n
        need[row.need_type] += n
        if row.unmet_need:
            unmet += n
        job_n[row.top_job] += n
        if row.sentiment == "positive":
            job_pos[row.top_job] += n

    for w in weekly:
        pos = share(w["positive"], w["classified"], min_n)
        w["positive_share"] = pos["p"]
        w["small"] = pos["small"]
    labels = list(SENTIMENT_ORDER) + sorted(set(sentiment) - set(SENTIMENT_ORDER))

    ms = stats.mean_sd(r_n, r_sum, r_sq)
    rating: dict[str, Any] = {"n": r_n, "mean": None, "sd": None, "ci": None, "small": r_n < min_n,
                              "distribution": {str(k): share(stars.get(k, 0), r_n, min_n) for k in range(1, 6)}}
    if ms is not None:
        rating.update(mean=ms[0], sd=ms[1], ci=list(stats.mean_ci(ms[0], ms[1], r_n)))

    job_figs: dict[str, Any] = {}
    for job in jobs:
        n_job = job_n.get(job["id"], 0)
        importance = share(n_job, classified, min_n)
        satisfaction = share(job_pos.get(job["id"], 0), n_job, min_n)
        job_figs[job["id"]] = {
            "configured": product.slug in job["products"], "n": n_job, "importance": importance,
            "satisfaction": satisfaction, "opportunity": opportunity(importance["p"], satisfaction["p"]),
            "small": n_job < min_n,
        }
    return {
        "slug": product.slug, "name": product.name, "own": bool(product.own), "volume": total,
        "small": classified < min_n,
        "coverage": {"total": total, "classified": classified, "skipped": skipped,
                     "unclassified": total - classified - skipped,
                     "classified_share": share(classified, total, min_n)},
        "by_source": dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
        "rating": rating,
        "sentiment": {s: share(sentiment.get(s, 0), classified, min_n) for s in labels},
        "need_types": {k: share(v, classified, min_n) for k, v in sorted(need.items(), key=lambda kv: (-kv[1], kv[0]))},
        "unmet": share(unmet, classified, min_n),
        "weekly": weekly,
        "jobs": job_figs,
        "opportunities": [
            j for j, f in sorted(job_figs.items(), key=lambda kv: -(kv[1]["opportunity"] or 0.0))
            if f["opportunity"] is not None and not f["small"]
        ],
    }


def opportunity(importance: float | None, satisfaction: float | None) -> float | None:
    """Ulwick's opportunity on shares (0-1), scaled to 0-10: ``5 * (imp + max(imp - sat, 0))``."""
    if importance is None or satisfaction is None:
        return None
    return round(5.0 * (importance + max(importance - satisfaction, 0.0)), 4)


def _share_of_voice(per: dict[str, dict[str, Any]], volume_rows: Mapping[int, list[Any]],
                    slug_of: Mapping[int, str], min_n: int) -> None:
    """Share of all mentions, and share of mentions in sources where two or more compared products appear."""
    by_source: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pid, rows in volume_rows.items():
        for _, _, row in rows:
            by_source[row.source][slug_of[pid]] += int(row.n)
    total = sum(p["volume"] for p in per.values())
    shared_sources = sorted(s for s, counts in by_source.items() if sum(1 for v in counts.values() if v) >= 2)
    shared_total = sum(sum(by_source[s].values()) for s in shared_sources)
    for slug, p in per.items():
        p["share_of_voice"] = share(p["volume"], total, min_n)
        mine = sum(by_source[s].get(slug, 0) for s in shared_sources)
        p["share_of_voice_shared"] = {**share(mine, shared_total, min_n), "sources": shared_sources}


def _top_needs(issues: list[dict[str, Any]], class_needs: list[dict[str, Any]], jobs: list[dict[str, Any]],
               limit: int, min_n: int) -> list[dict[str, Any]]:
    statements = {j["id"]: j["statement"] for j in jobs}
    active = [i for i in issues if i["state"] not in ("candidate",)]
    chosen = sorted(active, key=lambda i: (-i["count"], i["issue_id"]))[:limit]
    out = [{k: v for k, v in i.items() if k not in ("centroid", "keywords")} | {"small": i["count"] < min_n}
           for i in chosen]
    if len(out) < limit:
        for need in sorted(class_needs, key=lambda i: (-i["count"], str(i["job"]))):
            label = statements.get(need["job"], need["job"]) if need["job"] else "no job identified"
            out.append(need | {"label": f"unmet need: {label}", "small": need["count"] < min_n})
            if len(out) >= limit:
                break
    return out


def _comparisons(per: Mapping[str, dict[str, Any]], baseline: str, jobs: list[dict[str, Any]],
                 min_n: int) -> list[dict[str, Any]]:
    """Each product against the baseline (our product, else the first listed), metric by metric."""
    base = per[baseline]
    out: list[dict[str, Any]] = []
    metrics: list[tuple[str, str, bool, Any]] = [
        ("positive share", "share", True, lambda p: p["sentiment"].get("positive")),
        ("negative share", "share", False, lambda p: p["sentiment"].get("negative")),
        ("unmet-need share", "share", False, lambda p: p["unmet"]),
    ]
    for job in jobs:
        metrics.append((f"satisfaction: {job['statement']}", "share", True,
                        lambda p, j=job["id"]: p["jobs"][j]["satisfaction"]))
    for slug, other in per.items():
        if slug == baseline:
            continue
        r1, r2 = base["rating"], other["rating"]
        if r1["n"] and r2["n"]:
            small = r1["n"] < min_n or r2["n"] < min_n
            ci = stats.mean_diff_ci(r1["mean"], r1["sd"], r1["n"], r2["mean"], r2["sd"], r2["n"]) \
                if r1["n"] > 1 and r2["n"] > 1 else None
            out.append({"metric": "mean rating", "kind": "mean", "higher_is_better": True, "a": baseline, "b": slug,
                        "a_value": r1["mean"], "b_value": r2["mean"], "a_n": r1["n"], "b_n": r2["n"],
                        "diff": r1["mean"] - r2["mean"], "ci": list(ci) if ci else None,
                        "significant": stats.excludes_zero(ci) and not small, "small": small})
        for name, kind, better_high, get in metrics:
            a, b = get(base), get(other)
            if not a or not b or not a["n"] or not b["n"]:
                continue
            small = a["small"] or b["small"]
            ci = stats.newcombe(a["x"], a["n"], b["x"], b["n"])
            out.append({"metric": name, "kind": kind, "higher_is_better": better_high, "a": baseline, "b": slug,
                        "a_value": a["p"], "b_value": b["p"], "a_n": a["n"], "b_n": b["n"],
                        "diff": a["p"] - b["p"], "ci": list(ci) if ci else None,
                        "significant": stats.excludes_zero(ci) and not small, "small": small})
    return out


def _gaps(issues: Mapping[int, list[dict[str, Any]]], slug_of: Mapping[int, str],
          own: str | None) -> dict[str, Any]:
    """Active issues a competitor has with no match among ours, and the reverse."""
    if own is None:
        return {"own": None, "they_have": [], "we_have": [], "note": "no own product in the comparison"}
    own_id = next(pid for pid, slug in slug_of.items() if slug == own)

    def active(pid: int) -> list[dict[str, Any]]:
        return [i for i in issues.get(pid, []) if i["state"] not in INACTIVE_ISSUE_STATES]

    mine = active(own_id)
    they_have, we_have = [], []
    matched_mine: set[int] = set()
    for pid, slug in slug_of.items():
        if pid == own_id:
            continue
        theirs = active(pid)
        for issue in theirs:
            hits = [m["issue_id"] for m in mine if same_problem(issue, m)]
            matched_mine.update(hits)
            if not hits:
                they_have.append({"product": slug, "issue_id": issue["issue_id"], "label": issue["label"],
                                  "count": issue["count"], "state": issue["state"]})
    for m in mine:
        if m["issue_id"] not in matched_mine:
            we_have.append({"product": own, "issue_id": m["issue_id"], "label": m["label"], "count": m["count"],
                            "state": m["state"]})
    key = lambda g: (-g["count"], g["issue_id"])  # noqa: E731
    return {"own": own, "they_have": sorted(they_have, key=key), "we_have": sorted(we_have, key=key), "note": None}


def same_problem(a: Mapping[str, Any], b: Mapping[str, Any], threshold: float = MATCH_SIMILARITY) -> bool:
    """Whether two issues (of different products) describe the same problem.

    Centroid cosine when both have one; otherwise keyword overlap (Jaccard >= 1/3) or equal labels.
    """
    ca, cb = a.get("centroid"), b.get("centroid")
    if ca and cb and len(ca) == len(cb):
        import numpy as np

        va, vb = np.frombuffer(ca, dtype=np.float32), np.frombuffer(cb, dtype=np.float32)
        norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
        return norm > 0 and float(va @ vb) / norm >= threshold
    ka = {str(k).lower() for k in a.get("keywords") or []}
    kb = {str(k).lower() for k in b.get("keywords") or []}
    if ka and kb and len(ka & kb) / len(ka | kb) >= 1 / 3:
        return True
    return str(a.get("label", "")).strip().lower() == str(b.get("label", "")).strip().lower()


# -- summary -----------------------------------------------------------------------------------


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


def _fmt_value(c: Mapping[str, Any], value: float) -> str:
    return f"{value:.2f}" if c["kind"] == "mean" else _pct(value)


def _fmt_diff(c: Mapping[str, Any]) -> str:
    if c["kind"] == "mean":
        lo, hi = c["ci"]
        return f"{c['diff']:+.2f}, 95% CI {lo:+.2f} to {hi:+.2f}"
    lo, hi = c["ci"]
    return f"{100 * c['diff']:+.1f} pts, 95% CI {100 * lo:+.1f} to {100 * hi:+.1f}"


def summarise(data: Mapping[str, Any]) -> dict[str, Any]:
    """Where the baseline wins and loses, built only from the significant comparisons."""
    baseline = data["meta"]["baseline"]
    if baseline is None:
        return {"wins": [], "losses": [], "not_significant": 0, "small": [], "text": "No products to compare."}
    names = {p["slug"]: p["name"] for p in data["products"]}
    small = sorted(p["slug"] for p in data["products"] if p["small"])
    wins: list[dict[str, Any]] = []
    losses: list[dict[str, Any]] = []
    unclear = 0
    for c in data["comparisons"]:
        if c["small"]:
            continue
        if not c["significant"]:
            unclear += 1
            continue
        good = (c["diff"] > 0) == c["higher_is_better"]
        item = {"metric": c["metric"], "against": c["b"], "a_value": c["a_value"], "b_value": c["b_value"],
                "diff": c["diff"], "ci": c["ci"],
                "text": f"{'higher' if c['diff'] > 0 else 'lower'} {c['metric']} ({_fmt_value(c, c['a_value'])} vs "
                        f"{_fmt_value(c, c['b_value'])}, {_fmt_diff(c)})"}
        (wins if good else losses).append(item)
    who = names[baseline]
    parts = []
    for other in (p["slug"] for p in data["products"]):
        if other == baseline or other in small:
            continue
        w = [x["text"] for x in wins if x["against"] == other]
        lost = [x["text"] for x in losses if x["against"] == other]
        sentence = f"Against {names[other]}, {who} "
        sentence += ("wins on " + "; ".join(w)) if w else "has no significant win"
        sentence += (" and loses on " + "; ".join(lost)) if lost else " and no significant loss"
        parts.append(sentence + ".")
    if unclear:
        parts.append(f"{unclear} other difference{'s are' if unclear != 1 else ' is'} not significant at 95%.")
    if small:
        parts.append("Too few classified posts to compare (n < {}): {}.".format(
            data["meta"]["min_n"], ", ".join(names[s] for s in small)))
    return {"wins": wins, "losses": losses, "not_significant": unclear, "small": small, "text": " ".join(parts)}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """The URL when it is plain http(s), else None (no ``javascript:`` links from scraped data)."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or any(c in url for c in "\"'<> \n\r\t"):
        return None
    return url


__all__ = ["ReportError", "build_report", "opportunity", "safe_url", "same_problem", "share", "summarise"]
