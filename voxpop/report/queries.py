"""The report's SQL: aggregate queries over the store, run on parallel connections.

Nothing here loads posts into Python: each figure comes from a GROUP BY over the period
``[since, until)``. A post belongs to every product it is linked to: its own ``posts.product_id``
plus any extra links in ``post_products`` (community posts that name several products). The two
"cubes" (volume: posts by week, source, status and star; class: classified posts by week, need
type, unmet need, top job and sentiment) feed :mod:`voxpop.report.figures`.
"""

from __future__ import annotations

import os
import queue
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, case, func, literal_column, select, text
from sqlalchemy.orm import Session

from store.curation import effective_columns
from store.issue_figures import post_counts
from store.models import POST_SKIPPED, Classification, Issue, IssuePost, Post, PostLabel, PostProduct, Product
from voxpop.report.trend import rise

SECONDS_PER_WEEK = 7 * 86400
T = TypeVar("T")
DEFAULT_QUERY_THREADS = min(4, os.cpu_count() or 1)
# temp_store=2 is MEMORY; cache_size negative is KiB (256 MiB); mmap_size in bytes (1 GiB).
SQLITE_REPORT_PRAGMAS = {"temp_store": 2, "cache_size": -262144, "mmap_size": 1 << 30}


class ReportError(ValueError):
    """The report cannot be built as asked (unknown product, empty period)."""


def utc(value: datetime) -> datetime:
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


def load_products(session: Session, slugs: Sequence[str] | None) -> list[Any]:
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


def extra_scope(query: Any, ids: list[int], since: datetime, until: datetime, posts: Any = Post) -> Any:
    """Restrict a query to the extra links (post_products rows other than the post's own product)."""
    multi = _multi_linked()
    return (query.select_from(multi)
            .join(PostProduct, PostProduct.post_id == multi.c.post_id)
            .join(posts, posts.id == multi.c.post_id)
            .where(PostProduct.product_id != posts.product_id, PostProduct.product_id.in_(ids),
                   posts.created_at >= since, posts.created_at < until))


def in_range(posts: Any, since: datetime, until: datetime) -> Any:
    """The ids of the posts created in ``[since, until)``: a short range's posts found from the date index, for
    a query that would otherwise start from its other tables (an issue's members)."""
    return select(posts.id).where(posts.created_at >= since, posts.created_at < until)


def _week_expr(dialect: str, anchor: datetime) -> Any:
    epoch = int(anchor.timestamp())
    if dialect == "postgresql":
        return literal_column(
            f"CAST(floor((extract(epoch FROM posts.created_at) - {epoch}) / {SECONDS_PER_WEEK}) AS INTEGER)")
    return literal_column(f"((CAST(strftime('%s', posts.created_at) AS INTEGER) - {epoch}) / {SECONDS_PER_WEEK})")


def star_expr(dialect: str) -> Any:
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
                  mid: datetime, dims: list[Any], measures: list[Any], join_class: bool,
                  posts: Any = Post) -> list[_CubeQuery]:
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
        # A skipped post keeps no reading, even if an older classification row is left over. A person's
        # correction (post_labels, a small table) wins over the model's labels.
        return (query.join(Classification, Classification.post_id == posts.id)
                .outerjoin(PostLabel, PostLabel.post_id == posts.id).where(posts.status != POST_SKIPPED))

    week_col = _week_expr(dialect, anchor).label("week")
    half_col = case((posts.created_at >= mid, 1), else_=0).label("half")
    own = posts.product_id.label("pid")
    queries: list[_CubeQuery] = []
    if dialect == "postgresql":
        queries.append(_CubeQuery(cube, joined(select(own, week_col, half_col, *dims, *measures).select_from(posts))
                                  .where(posts.product_id.in_(ids), posts.created_at >= since, posts.created_at < until)
                                  .group_by(own, week_col, half_col, *dims)))
    else:
        for start, end, week, half in _ranges(since, until, anchor, mid):
            query = joined(select(own, *dims, *measures).select_from(posts)).where(
                posts.product_id.in_(ids), posts.created_at >= start, posts.created_at < end).group_by(own, *dims)
            queries.append(_CubeQuery(cube, query, week, half))
    pid = PostProduct.product_id.label("pid")
    extra = extra_scope(select(pid, week_col, half_col, *dims, *measures), ids, since, until, posts)
    queries.append(_CubeQuery(cube, joined(extra).group_by(pid, week_col, half_col, *dims)))
    return queries


def volume_queries(dialect: str, ids: list[int], since: datetime, until: datetime, anchor: datetime,
                   mid: datetime, posts: Any = Post) -> list[_CubeQuery]:
    """Posts by product, week, source, status and star, with rating sums (posts' covering index only)."""
    dims = [posts.source, posts.status, star_expr(dialect).label("star")]
    measures = [func.count().label("n"), func.sum(posts.rating).label("r_sum"),
                func.sum(posts.rating * posts.rating).label("r_sq")]
    return _cube_queries("volume", dialect, ids, since, until, anchor, mid, dims, measures, join_class=False,
                         posts=posts)


def class_queries(dialect: str, ids: list[int], since: datetime, until: datetime, anchor: datetime,
                  mid: datetime, posts: Any = Post) -> list[_CubeQuery]:
    """Classified posts by product, week, need type, unmet need, top job and sentiment; newest post id."""
    labels = effective_columns()
    dims = [labels["need_type"], labels["unmet_need"], labels["top_job"], labels["sentiment"]]
    measures = [func.count().label("n"), func.max(posts.id).label("latest")]
    return _cube_queries("class", dialect, ids, since, until, anchor, mid, dims, measures, join_class=True,
                         posts=posts)


def run_cubes(session: Session, dialect: str, queries: list[_CubeQuery],
              threads: int, tune: bool = True) -> dict[str, dict[int, list[tuple[int, int, Any]]]]:
    """Run every cube query and group the rows as ``{cube: {product id: [(week, half, row)]}}`` (``tune``: as
    :func:`_execute_all`; a few hours of posts need no larger cache)."""
    out: dict[str, dict[int, list[tuple[int, int, Any]]]] = {"volume": defaultdict(list), "class": defaultdict(list)}
    group_cube_rows(out, queries, _execute_all(session, dialect, [q.query for q in queries], threads, tune=tune))
    return out


def group_cube_rows(out: dict[str, dict[int, list[tuple[int, int, Any]]]], queries: Sequence[_CubeQuery],
                    found: Sequence[Sequence[Any]]) -> None:
    """Add the rows of each cube query (``found``, in the queries' order) to ``out`` as (week, half, row)."""
    for item, rows in zip(queries, found, strict=True):
        for row in rows:
            week = row.week if item.week is None else item.week
            half = row.half if item.half is None else item.half
            out[item.cube][row.pid].append((week, half, row))


def parallel_engine(session: Session, threads: int) -> Engine | None:
    """The session's engine when reads may run on other connections at once (``threads`` > 1, a database
    file or server, not an in-memory SQLite one that other connections cannot see), else None."""
    bind = session.get_bind()
    if threads <= 1 or not isinstance(bind, Engine) or bind.url.database in (None, "", ":memory:"):
        return None
    return bind


def in_background(session: Session, threads: int, read: Callable[[Session], T]) -> Callable[[], T]:
    """Start ``read`` on a session of its own in a thread when :func:`parallel_engine` allows (else run it
    now on ``session``); returns the call that gives its result. The report overlaps its Python-bound
    reads (the segments' posts) with the SQL-bound ones this way: both drivers release the GIL in SQL."""
    engine = parallel_engine(session, threads)
    if engine is None:
        result = read(session)
        return lambda: result

    def run() -> T:
        with Session(engine) as own:
            return read(own)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-read")
    future = pool.submit(run)
    pool.shutdown(wait=False)
    return future.result


def _execute_all(session: Session, dialect: str, queries: list[Any], threads: int,
                 tune: bool = True) -> list[list[Any]]:
    """The rows of each query, in order; on up to ``threads`` connections of the session's engine at once.

    The queries are independent reads of committed data, and both drivers release the GIL while the
    database works, so a report uses every core. With one thread (or a bind that is not an engine,
    or an in-memory SQLite database) they run on the session's own connection. ``tune`` sets SQLite's
    larger cache and memory-mapped reads for scans of the posts (small reads of the rollups skip it).
    """
    if not tune:
        dialect = "none"  # _sqlite_tuned leaves other dialects alone
    bind = parallel_engine(session, threads)
    if bind is None or len(queries) <= 1:
        connection = session.connection()  # Core rows: no ORM row processing for plain aggregates
        with _sqlite_tuned(connection, dialect):
            return [list(connection.execute(query)) for query in queries]
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


def issue_counts(session: Session, ids: list[int], since: datetime, until: datetime,
                  mid: datetime, posts: Any = Post) -> dict[int, tuple[int, int, int]]:
    """Per issue of the products: (product id, posts in the period, posts in its second half)."""
    if not ids:
        return {}
    later = func.sum(case((posts.created_at >= mid, 1), else_=0))
    query = (
        select(IssuePost.issue_id, Issue.product_id, func.count().label("n"), later.label("later"))
        .select_from(IssuePost)
        .join(Issue, Issue.id == IssuePost.issue_id)
        .join(posts, posts.id == IssuePost.post_id)
        .where(Issue.product_id.in_(ids), posts.created_at >= since, posts.created_at < until)
        .group_by(IssuePost.issue_id, Issue.product_id)
    )
    return {row.issue_id: (row.product_id, int(row.n), int(row.later or 0)) for row in session.execute(query)}


def load_issues(session: Session, counts: Mapping[int, tuple[int, int, int]],
                end: date | None = None, posts: Any = Post) -> dict[int, list[dict[str, Any]]]:
    """The issues that have posts in the period, with their counts and representative evidence.

    ``rise`` is the issue list's trend (:func:`voxpop.report.trend.rise`) on the period's last day ``end``.
    """
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not counts:
        return out
    issue_ids = list(counts)
    found: list[Any] = []
    for start in range(0, len(issue_ids), 500):
        chunk = issue_ids[start:start + 500]
        found.extend(session.execute(
            select(Issue.id, Issue.label, Issue.keywords, Issue.state, Issue.need_type, Issue.centroid,
                   Issue.representative_post_id, Issue.daily_counts).where(Issue.id.in_(chunk))
        ).all())
    evidence = _evidence(session, [r.representative_post_id for r in found if r.representative_post_id], posts)
    sizes = post_counts(session, [r.id for r in found])  # all its posts now: the count every surface shows
    for r in found:
        pid, n, later = counts[r.id]
        ev = evidence.get(r.representative_post_id or -1, {})
        out[pid].append({
            "source": "issue", "issue_id": r.id, "label": r.label, "keywords": list(r.keywords or []),
            "state": r.state, "need_type": r.need_type, "count": n, "first_half": n - later, "second_half": later,
            "trend": later - (n - later), "evidence": ev.get("evidence"), "url": ev.get("url"),
            "centroid": r.centroid, "posts": sizes.get(r.id, 0),
            "rise": rise(r.daily_counts or {}, end) if end else None,
        })
    return out


def _evidence(session: Session, post_ids: Iterable[int], posts: Any = Post) -> dict[int, dict[str, Any]]:
    ids = sorted(set(post_ids))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        query = (
            select(posts.id, posts.url, func.substr(posts.text, 1, 400).label("text"), Classification.evidence)
            .outerjoin(Classification, Classification.post_id == posts.id).where(posts.id.in_(chunk))
        )
        for row in session.execute(query):
            quote = (row.evidence or row.text or "").strip()
            out[row.id] = {"evidence": clip(quote, 280), "url": safe_url(row.url)}
    return out


def class_needs(session: Session, class_rows: Mapping[int, list[Any]],
                posts: Any = Post) -> dict[int, list[dict[str, Any]]]:
    """Unmet needs from classifications, grouped by top job, each with its newest post as evidence."""
    counts: dict[tuple[int, str | None], list[int]] = defaultdict(lambda: [0, 0])
    latest: dict[tuple[int, str | None], int] = {}
    for pid, rows in class_rows.items():
        for _, half, row in rows:
            if row.unmet_need:
                key = (pid, row.top_job)
                counts[key][int(half)] += int(row.n)
                latest[key] = max(latest.get(key, 0), int(row.latest))
    evidence = _evidence(session, latest.values(), posts)
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (pid, job), (first, second) in counts.items():
        ev = evidence.get(latest[(pid, job)], {})
        out[pid].append({
            "source": "classification", "issue_id": None, "label": None, "job": job, "state": None,
            "count": first + second, "first_half": first, "second_half": second, "trend": second - first,
            "evidence": ev.get("evidence"), "url": ev.get("url"),
        })
    return out



def clip(text: str, limit: int) -> str:
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



def period_totals(session: Session, ids: list[int], since: datetime, until: datetime,
                  posts: Any = Post) -> dict[int, dict[str, float]]:
    """Per product over ``[since, until)``: posts, ratings (n, sum, sum of squares), classified and negative posts.

    Used for the previous period of the headline, so it is one pass per cube with no week split.
    """
    out: dict[int, dict[str, float]] = defaultdict(
        lambda: {"posts": 0, "r_n": 0, "r_sum": 0.0, "r_sq": 0.0, "classified": 0, "negative": 0, "neutral": 0,
                 "positive": 0})
    if not ids:
        return out
    volume = [func.count().label("n"), func.count(posts.rating).label("r_n"), func.sum(posts.rating).label("r_sum"),
              func.sum(posts.rating * posts.rating).label("r_sq")]
    # The labels in force (a person's label wins), as in the cubes of the period itself.
    labels = effective_columns()
    negative = func.sum(case((labels["sentiment"] == "negative", 1), else_=0)).label("neg")
    neutral = func.sum(case((labels["sentiment"] == "neutral", 1), else_=0)).label("neu")
    positive = func.sum(case((labels["sentiment"] == "positive", 1), else_=0)).label("pos")
    own = posts.product_id.label("pid")
    extra = PostProduct.product_id.label("pid")
    queries = [
        select(own, *volume).where(posts.product_id.in_(ids), posts.created_at >= since, posts.created_at < until)
        .group_by(own),
        extra_scope(select(extra, *volume), ids, since, until, posts).group_by(extra),
        select(own, func.count().label("n"), negative, neutral, positive).select_from(posts)
        .join(Classification, Classification.post_id == posts.id)
        .outerjoin(PostLabel, PostLabel.post_id == posts.id)
        .where(posts.status != POST_SKIPPED, posts.product_id.in_(ids), posts.created_at >= since,
               posts.created_at < until).group_by(own),
        extra_scope(select(extra, func.count().label("n"), negative, neutral, positive), ids, since, until, posts)
        .join(Classification, Classification.post_id == posts.id).outerjoin(PostLabel, PostLabel.post_id == posts.id)
        .where(posts.status != POST_SKIPPED).group_by(extra),
    ]
    for index, query in enumerate(queries):
        for row in session.execute(query):
            t = out[row.pid]
            if index < 2:
                t["posts"] += int(row.n)
                t["r_n"] += int(row.r_n or 0)
                t["r_sum"] += float(row.r_sum or 0.0)
                t["r_sq"] += float(row.r_sq or 0.0)
            else:
                t["classified"] += int(row.n)
                t["negative"] += int(row.neg or 0)
                t["neutral"] += int(row.neu or 0)
                t["positive"] += int(row.pos or 0)
    return out


def issue_detail_rows(session: Session, issue_ids: Sequence[int], since: datetime, until: datetime,
                      posts: Any = Post, narrow: bool = False) -> list[Any]:
    """The issues' posts in the period grouped by issue, classified or not, top job, sentiment (the labels in
    force) and version: rows of (issue_id, classified, top_job, sentiment, version, n, first). ``narrow``: a
    short range (part of a day), read from its posts to their memberships."""
    out: list[Any] = []
    ids = list(issue_ids)
    labels = effective_columns()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        # One pass over the members' posts (each a random read of a post row) for both figures: the jobs and
        # sentiment of the classified ones, the versions of those that name one.
        classified = Classification.id.is_not(None).label("classified")
        query = (select(IssuePost.issue_id, classified, labels["top_job"], labels["sentiment"],
                        posts.version, func.count().label("n"), func.min(posts.created_at).label("first"))
                 .select_from(IssuePost).join(posts, posts.id == IssuePost.post_id)
                 .outerjoin(Classification, Classification.post_id == posts.id)
                 .outerjoin(PostLabel, PostLabel.post_id == posts.id)
                 .where(IssuePost.issue_id.in_(chunk), posts.created_at >= since, posts.created_at < until)
                 .group_by(IssuePost.issue_id, classified, labels["top_job"], labels["sentiment"], posts.version))
        if narrow:
            query = query.where(IssuePost.post_id.in_(in_range(posts, since, until)))
        out += session.execute(query).all()
    return out


def issue_details(session: Session, issue_ids: Sequence[int], since: datetime,
                  until: datetime, posts: Any = Post) -> dict[int, dict[str, Any]]:
    """Per issue, over its posts in the period: the jobs of those posts, their sentiment and app versions.

    An issue "gains the jobs of its posts": ``jobs`` counts the top job of each classified post.
    ``versions`` are the app versions named by its posts, most common first; ``first_version`` is the
    version of its earliest post that names one.
    """
    rows = issue_detail_rows(session, issue_ids, since, until, posts)
    firsts: dict[int, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        if r.version is not None and r.version != "":
            first_seen(firsts, r.issue_id, str(r.version), str(r.first))
    return details_of(issue_ids, rows, firsts)


def first_seen(firsts: dict[int, dict[str, Any]], issue_id: int, version: str, when: Any) -> None:
    """Keep ``when`` as the issue's first sight of ``version`` when it is earlier than the one kept."""
    kept = firsts[issue_id].get(version)
    if kept is None or when < kept:
        firsts[issue_id][version] = when


def details_of(issue_ids: Sequence[int], rows: Iterable[Any], firsts: Mapping[int, Mapping[str, Any]]
               ) -> dict[int, dict[str, Any]]:
    """:func:`issue_details`' figures from rows of (issue_id, classified, top_job, sentiment, version, n, ...)
    and, per issue and version, a comparable first sight of the version (the earliest one is the first)."""
    out: dict[int, dict[str, Any]] = {
        i: {"jobs": {}, "negative": 0, "classified": 0, "versions": [], "first_version": None} for i in issue_ids}
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in rows:
        issue_id, classified, top_job, sentiment, version, n = row[:6]
        d, n = out[issue_id], int(n)
        if classified:
            d["classified"] += n
            if sentiment == "negative":
                d["negative"] += n
            if top_job:
                d["jobs"][top_job] = d["jobs"].get(top_job, 0) + n
        if version is not None and version != "":
            counts[issue_id][str(version)] = counts[issue_id].get(str(version), 0) + n
    for issue_id, versions in counts.items():
        ranked = sorted(versions.items(), key=lambda kv: (-kv[1], kv[0]))
        out[issue_id]["versions"] = [{"version": clip(v, 40), "count": c} for v, c in ranked[:3]]
        first = min(ranked, key=lambda kv: firsts[issue_id][kv[0]])  # ties: the most common first
        out[issue_id]["first_version"] = clip(first[0], 40)
    for d in out.values():
        d["jobs"] = dict(sorted(d["jobs"].items(), key=lambda kv: (-kv[1], kv[0])))
    return out


def first_post_dates(session: Session, ids: list[int], posts: Any = Post) -> dict[int, datetime]:
    """The date of each product's earliest stored post (its own posts; read from the product/date index)."""
    if not ids:
        return {}
    # One MIN per product: a seek on the (product, created) index each, not a walk of the whole index.
    rows = [(pid, session.scalar(select(func.min(posts.created_at)).where(posts.product_id == pid))) for pid in ids]
    out: dict[int, datetime] = {}
    for pid, first in rows:
        if isinstance(first, str):
            first = datetime.fromisoformat(first)
        if first is not None:
            out[pid] = utc(first)
    return out
