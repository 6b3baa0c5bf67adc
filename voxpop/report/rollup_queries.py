"""The report's sums read from the rollups (``store.rollups``) instead of scanning the posts.

Whole UTC days of a period come from ``rollup_days`` and ``rollup_issue_days``; the part of a day at
either end of the period (or of its halves, when ``since``, ``until`` or the midpoint is not at
midnight) is aggregated from those few posts with the same code that keeps the rollups, so the figures
equal the ones :mod:`voxpop.report.queries` computes from the posts (``build_report(from_rollups=False)``).

The rows returned have the shape of the posts queries' rows, so :mod:`voxpop.report.figures` reads
both alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.orm import Session

from store import rollups
from store.models import POST_SKIPPED, Issue, IssuePost, Post, RollupDay, RollupIssueDay
from voxpop.report import jobmap_queries, queries
from voxpop.report.part_days import PartDays, PartDaySums

Cubes = dict[str, dict[int, list[tuple[int, int, Any]]]]


@dataclass(frozen=True)
class VolumeRow:
    """Posts of one product, week, source, status and star (the posts query's volume row)."""

    pid: int
    source: str
    status: str
    star: int | None
    n: int
    r_sum: float
    r_sq: float


@dataclass(frozen=True)
class ClassRow:
    """Labelled posts of one product, week and labels (the posts query's class row)."""

    pid: int
    need_type: str | None
    unmet_need: bool
    top_job: str | None
    sentiment: str | None
    n: int
    latest: int
    weekly_only: bool = False  # a per-week sentiment count (the weekly chart), not part of the label totals


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def split(start: datetime, end: datetime) -> tuple[tuple[date, date] | None, list[tuple[datetime, datetime]]]:
    """``[start, end)`` as whole days ``[d0, d1)`` (or None) and the partial-day pieces around them."""
    d0 = start.date() if start == _midnight(start.date()) else start.date() + timedelta(days=1)
    d1 = end.date()
    if d0 >= d1:  # less than a whole day: cut at the midnight it may cross, so each piece is in one day
        cut = _midnight(start.date() + timedelta(days=1))
        return None, [(a, b) for a, b in ((start, min(end, cut)), (max(start, cut), end)) if a < b]
    edges = [(a, b) for a, b in ((start, _midnight(d0)), (_midnight(d1), end)) if a < b]
    return (d0, d1), edges


FULL = (rollups.WEEK, rollups.DAY)  # every dimension (country, version, language, ...)
VOLUME = (rollups.VOLUME_WEEK, rollups.DAY)  # posts, ratings and sentiment per source (compact weeks)
# Labelled posts per need, job, sentiment and step.
LABELS = (rollups.LABELS_MONTH, rollups.LABELS_WEEK, rollups.LABELS_DAY)


def pieces(days: tuple[date, date], spans: Sequence[int] = FULL) -> list[tuple[int, date, date]]:
    """Whole days ``[d0, d1)`` as rollup ranges ``(span, first, end)``, longest span first: at each day the
    longest of ``spans`` (the last one a day) that starts there and ends by ``d1``; consecutive rows of one
    span make one range. A year of weeks and days is ~3 ranges; of months, weeks and days ~5."""
    d0, d1 = days
    out: list[tuple[int, date, date]] = []
    day = d0
    while day < d1:
        span = next(s for s in spans if rollups.span_start(day, s) == day and rollups.span_end(day, s) <= d1)
        end = rollups.span_end(day, span)
        if out and out[-1][0] == span and out[-1][2] == day:
            out[-1] = (span, out[-1][1], end)
        else:
            out.append((span, day, end))
        day = end
    return out


def _week_of_day(dialect: str, anchor: datetime) -> Any:
    first = anchor.date().isoformat()
    if dialect == "postgresql":
        return literal_column(f"((rollup_days.day - DATE '{first}') / 7)")
    return literal_column(f"(CAST(julianday(rollup_days.day) - julianday('{first}') AS INTEGER) / 7)")


def _volume(cubes: Cubes, pid: int, week: int, half: int, source: str, skipped: int, v: Sequence[float]) -> None:
    """Volume rows of one group: one per star with posts, one for posts without a rating."""
    status = POST_SKIPPED if skipped else ""
    n, r_n, r_sum, r_sq = int(v[0]), int(v[1]), float(v[2]), float(v[3])
    rows = cubes["volume"][pid]
    first = True
    for star in range(1, 6):
        count = int(v[3 + star])
        if count:
            rows.append((week, half, VolumeRow(pid, source, status, star, count, r_sum if first else 0.0,
                                               r_sq if first else 0.0)))
            first = False
    if n - r_n:
        rows.append((week, half, VolumeRow(pid, source, status, None, n - r_n, 0.0, 0.0)))


def cubes(session: Session, dialect: str, ids: list[int], since: datetime, until: datetime, anchor: datetime,
          mid: datetime, threads: int, part: PartDays | None = None) -> Cubes:
    """The report's volume and class cubes (``queries.run_cubes``' shape) from the rollups; ``part``: the
    report's part-day sums, shared with its other readers."""
    out: Cubes = {"volume": defaultdict(list), "class": defaultdict(list)}
    if not ids:
        return out
    part = part if part is not None else PartDays(dialect, ids)
    t = RollupDay
    week = _week_of_day(dialect, anchor).label("week")
    jobs: list[tuple[str, int, Any]] = []
    ranges: list[tuple[datetime, datetime, datetime]] = []  # (start, end, cut): posts before ``cut`` are half 0
    for half, (start, end) in enumerate(((since, mid), (mid, until))):
        days, edges = split(start, end)
        for a, b in edges:  # part of a day: read from its posts (an index range scan), once for every sum
            if half == 1 and ranges and ranges[-1][1] == a == mid:
                # The day the midpoint cuts: one range read once, its posts put in their half by ``mid``
                # (the same rows as two ranges, with half the posts queries).
                ranges[-1] = (ranges[-1][0], b, mid)
            else:
                ranges.append((a, b, b if half == 0 else a))  # the range's own half
        if days is None:
            continue
        # The compact rows: volume per source (weeks and days: the chart is weekly), labels per month too.
        for span, first, stop in pieces(days, VOLUME):
            scope = (t.product_id.in_(ids), t.span == span, t.day >= first, t.day < stop)
            stars = [func.sum(getattr(t, f"star{k}")).label(f"star{k}") for k in range(1, 6)]
            # Volume and the weekly sentiment of the chart from one pass over the rows.
            volume = (select(t.product_id.label("pid"), week, t.source, t.skipped, t.sentiment,
                             func.sum(t.posts).label("n"), func.sum(t.rating_n).label("r_n"),
                             func.sum(t.rating_sum).label("r_sum"), func.sum(t.rating_sq).label("r_sq"), *stars)
                      .where(*scope).group_by(t.product_id, week, t.source, t.skipped, t.sentiment))
            jobs.append(("volume", half, volume))
        for span, first, stop in pieces(days, LABELS):  # over the whole piece (no week)
            labelled = (select(t.product_id.label("pid"), t.need_type, t.unmet, t.top_job, t.sentiment,
                               func.sum(t.posts).label("n"), func.max(t.latest).label("latest"))
                        .where(t.product_id.in_(ids), t.span == span, t.day >= first, t.day < stop)
                        .group_by(t.product_id, t.need_type, t.unmet, t.top_job, t.sentiment))
            jobs.append(("class", half, labelled))
    # The part days: each range's sums once (another reader of the report may have read or be reading it);
    # the ranges this call is first to ask run beside the rollup reads.
    # (claimed future, its statement when this call runs it, week, the half of every row or None)
    claimed: list[tuple[Future[PartDaySums], Any, int, int | None]] = []
    for a, b, cut in ranges:
        cut_inside = a < cut < b  # the day the midpoint cuts: each row in its own half
        future, query = part.claim(a, b, cut if cut_inside else None)
        claimed.append((future, query, _week_index(a, anchor), None if cut_inside else int(a >= cut)))
    mine = [(future, query) for future, query, _, _ in claimed if query is not None]
    try:
        found = queries._execute_all(session, dialect, [q for _, _, q in jobs] + [q for _, q in mine], threads,
                                     tune=False)
    except BaseException as error:
        for future, _ in mine:
            part.settle(future, error)
        raise
    results = found[:len(jobs)]
    for (future, _), rows in zip(mine, found[len(jobs):], strict=True):
        part.settle(future, rows)
    for future, _, week_no, every_row in claimed:
        _edge_cube_rows(out, future.result(), week_no, every_row)
    for (cube, half, _), found in zip(jobs, results, strict=True):
        r: Any
        if cube == "volume":
            # Summed over sentiment into the volume rows; over source and status into the weekly sentiment.
            sums: dict[tuple[int, int, str, int], list[float]] = {}
            weekly: dict[tuple[int, int, str], int] = {}
            # Positional rows: a few thousand of them, where attribute access by name would cost more than the SQL.
            for pid, week_no, source, skipped, sentiment, *values in found:
                key = (pid, int(week_no), source, int(skipped))
                cell = sums.get(key)
                if cell is None:
                    cell = sums[key] = [0.0] * 9
                for k, x in enumerate(values):
                    if x:
                        cell[k] += float(x)
                if sentiment:
                    weekly[key[:2] + (sentiment,)] = weekly.get(key[:2] + (sentiment,), 0) + int(values[0])
            for (pid, week_no, source, skipped), cell in sums.items():
                _volume(out, pid, week_no, half, source, skipped, cell)
            for (pid, week_no, sentiment), n in weekly.items():
                out["class"][pid].append((week_no, half, ClassRow(
                    pid, None, False, None, sentiment, n, 0, weekly_only=True)))
            continue
        for r in found:
            out["class"][r.pid].append((None, half, ClassRow(  # type: ignore[arg-type]
                r.pid, r.need_type or None, bool(r.unmet), r.top_job or None, r.sentiment or None, int(r.n),
                int(r.latest or 0))))
    return out


def _week_index(day_start: datetime, anchor: datetime) -> int:
    """The week (from ``anchor``, a Monday midnight) of a part day's posts, as the posts queries number it."""
    return int((day_start - anchor).total_seconds() // queries.SECONDS_PER_WEEK)


def _edge_cube_rows(out: Cubes, sums: PartDaySums, week: int, half: int | None) -> None:
    """A part day's sums as cube rows of its week (``half``: of every row, else each row's own)."""
    for pid, own_half, source, skipped, star, n, r_sum, r_sq in sums.volume:
        out["volume"][pid].append((week, own_half if half is None else half, VolumeRow(
            pid, source, POST_SKIPPED if skipped else "", star, n, r_sum, r_sq)))
    for pid, own_half, need_type, unmet, top_job, sentiment, n, latest in sums.labels:
        out["class"][pid].append((week, own_half if half is None else half, ClassRow(
            pid, need_type, bool(unmet), top_job, sentiment, n, latest)))


def period_totals(session: Session, ids: list[int], since: datetime, until: datetime,
                  part: PartDays | None = None) -> dict[int, dict[str, float]]:
    """``queries.period_totals`` from the rollups: posts, ratings, labelled and negative posts per product;
    ``part``: the report's part-day sums, shared with its other readers."""
    out: dict[int, dict[str, float]] = defaultdict(
        lambda: {"posts": 0, "r_n": 0, "r_sum": 0.0, "r_sq": 0.0, "classified": 0, "negative": 0, "neutral": 0,
                 "positive": 0})
    if not ids:
        return out

    def add(pid: int, n: float, r_n: float, r_sum: float, r_sq: float, labelled: float, negative: float,
            neutral: float, positive: float) -> None:
        t = out[pid]
        t["neutral"] += int(neutral)
        t["positive"] += int(positive)
        t["posts"] += int(n)
        t["r_n"] += int(r_n)
        t["r_sum"] += float(r_sum)
        t["r_sq"] += float(r_sq)
        t["classified"] += int(labelled)
        t["negative"] += int(negative)

    days, edges = split(since, until)
    part = part if part is not None else PartDays(session.get_bind().dialect.name, ids)
    for a, b in edges:
        sums = part.read(session, a, b)
        for pid, _, _, _, star, n, r_sum, r_sq in sums.volume:
            add(pid, n, n if star is not None else 0, r_sum, r_sq, 0, 0, 0, 0)
        for pid, _, _, _, _, sentiment, n, _ in sums.labels:
            add(pid, 0, 0, 0.0, 0.0, n, n if sentiment == "negative" else 0, n if sentiment == "neutral" else 0,
                n if sentiment == "positive" else 0)
    for span, first, stop in pieces(days, VOLUME) if days is not None else ():
        t = RollupDay
        labelled = func.sum(case((t.sentiment != "", t.posts), else_=0))
        query = (select(t.product_id, func.sum(t.posts), func.sum(t.rating_n), func.sum(t.rating_sum),
                        func.sum(t.rating_sq), labelled, func.sum(t.negative), func.sum(t.neutral),
                        func.sum(t.positive))
                 .where(t.product_id.in_(ids), t.span == span, t.day >= first, t.day < stop).group_by(t.product_id))
        for pid, *values in session.execute(query):
            add(pid, *[float(v or 0) for v in values])
    return out


def issue_counts(session: Session, ids: list[int], since: datetime, until: datetime,
                 mid: datetime) -> dict[int, tuple[int, int, int]]:
    """``queries.issue_counts`` from the per-issue rollups: (product id, posts in the period, in its second half)."""
    if not ids:
        return {}
    counts: dict[int, list[int]] = {}
    product: dict[int, int] = {}
    for half, (start, end) in enumerate(((since, mid), (mid, until))):
        days, edges = split(start, end)
        queries = []
        for a, b in edges:  # the range's posts first (date index), then their memberships (post id index)
            in_range = select(Post.id).where(Post.created_at >= a, Post.created_at < b)
            queries.append(select(IssuePost.issue_id, Issue.product_id, func.count().label("n"))
                           .select_from(IssuePost).join(Issue, Issue.id == IssuePost.issue_id)
                           .where(Issue.product_id.in_(ids), IssuePost.post_id.in_(in_range))
                           .group_by(IssuePost.issue_id, Issue.product_id))
        if days is not None:
            r = RollupIssueDay
            queries.append(select(r.issue_id, Issue.product_id, func.sum(r.posts).label("n"))
                           .join(Issue, and_(Issue.id == r.issue_id, Issue.product_id.in_(ids)))
                           .where(r.day >= days[0], r.day < days[1]).group_by(r.issue_id, Issue.product_id))
        for query in queries:
            for issue_id, pid, n in session.execute(query):
                product[issue_id] = pid
                counts.setdefault(issue_id, [0, 0])[half] += int(n)
    return {i: (product[i], c[0] + c[1], c[1]) for i, c in counts.items() if c[0] + c[1]}


def step_counts(session: Session, ids: Sequence[int], since: datetime, until: datetime,
                part: PartDays | None = None) -> dict[int, dict[str | None, dict[str, int]]]:
    """``jobmap_queries.step_counts`` from the rollups: classified posts, negative, positive and unmet per
    product and step (None: not placed on a step); the partial days at the ends come from the posts (``part``:
    the report's part-day sums, shared with its other readers)."""
    out: dict[int, dict[str | None, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: {"n": 0, "negative": 0, "positive": 0, "unmet": 0}))
    if not ids or not jobmap_queries.any_placed(session):
        return out
    days, edges = split(since, until)
    part = part if part is not None else PartDays(session.get_bind().dialect.name, ids)
    for a, b in edges:
        for pid, step, sentiment, unmet, n in part.read(session, a, b).steps:
            _count_step(out[pid][step or None], sentiment, unmet, n)
    t = RollupDay
    # The compact label rows: exactly the labelled (classified, not skipped) posts with a sentiment.
    for span, first, stop in pieces(days, LABELS) if days is not None else ():
        query = (select(t.product_id, t.step, t.sentiment, t.unmet, func.sum(t.posts))
                 .where(t.product_id.in_(list(ids)), t.span == span, t.day >= first, t.day < stop)
                 .group_by(t.product_id, t.step, t.sentiment, t.unmet))
        for pid, step, sentiment, unmet, n in session.execute(query):
            _count_step(out[pid][step or None], sentiment, unmet, int(n or 0))
    return out


def _count_step(cell: dict[str, int], sentiment: str | None, unmet: Any, n: int) -> None:
    """Add ``n`` posts of one sentiment and unmet flag to a job-map cell."""
    cell["n"] += n
    if sentiment == "negative":
        cell["negative"] += n
    elif sentiment == "positive":
        cell["positive"] += n
    if unmet:
        cell["unmet"] += n


def step_issues(session: Session, ids: Sequence[int], since: datetime,
                until: datetime) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """``jobmap_queries.step_issues`` from the per-issue rollups; the partial days at the ends from the posts."""
    counts: dict[tuple[int, str, int], int] = defaultdict(int)
    if not ids:
        return jobmap_queries.issues_by_step(session, counts)
    days, edges = split(since, until)
    for a, b in edges:
        for key, n in jobmap_queries.step_issue_counts(session, ids, a, b, narrow=True).items():
            counts[key] += n
    if days is not None:
        r = RollupIssueDay
        query = (select(Issue.product_id, r.step, r.issue_id, func.sum(r.posts))
                 .join(Issue, and_(Issue.id == r.issue_id, Issue.product_id.in_(list(ids)),
                                   Issue.state.not_in(jobmap_queries.INACTIVE_STATES)))
                 .where(r.day >= days[0], r.day < days[1], r.classified == 1, r.step != "")
                 .group_by(Issue.product_id, r.step, r.issue_id))
        for pid, step, issue_id, n in session.execute(query):
            counts[(pid, step, issue_id)] += int(n or 0)
    return jobmap_queries.issues_by_step(session, counts)


def issue_details(session: Session, issue_ids: Sequence[int], since: datetime,
                  until: datetime) -> dict[int, dict[str, Any]]:
    """``queries.issue_details`` from the per-issue rollups; the partial days at the ends from the posts.

    Which version an issue saw first is known to the day from the rollups; where two versions first appear
    on the same day, that day's posts of the issue say which came first.
    """
    ids = list(issue_ids)
    days, edges = split(since, until)
    rows: list[Any] = []
    # A comparable first sight per issue and version: (0, time) before the whole days, (1, day, time or "")
    # within them, (2, time) after them.
    firsts: dict[int, dict[str, Any]] = defaultdict(dict)
    for a, b in edges:
        kind = 0 if days is None or b <= _midnight(days[0]) else 2
        for row in queries.issue_detail_rows(session, ids, a, b, narrow=True):
            rows.append(row)
            if row.version is not None and row.version != "":
                queries.first_seen(firsts, row.issue_id, str(row.version), (kind, str(row.first), ""))
    if days is not None:
        r = RollupIssueDay
        for start in range(0, len(ids), rollups.CHUNK):
            query = (select(r.issue_id, r.classified, r.top_job, r.sentiment, r.version,
                            func.sum(r.posts).label("n"), func.min(r.day).label("first"))
                     .where(r.issue_id.in_(ids[start:start + rollups.CHUNK]), r.day >= days[0], r.day < days[1])
                     .group_by(r.issue_id, r.classified, r.top_job, r.sentiment, r.version))
            for row in session.execute(query):
                rows.append(row)
                if row.version:
                    first = row.first if isinstance(row.first, date) else date.fromisoformat(str(row.first))
                    queries.first_seen(firsts, row.issue_id, row.version, (1, first, ""))
    for issue_id, versions in firsts.items():
        _order_same_day_firsts(session, issue_id, versions)
    return queries.details_of(ids, rows, firsts)


def _order_same_day_firsts(session: Session, issue_id: int, versions: dict[str, Any]) -> None:
    """When the earliest versions of an issue first appear on the same whole day, add the time of each one's
    first post that day, so the earliest post decides as it does from the posts."""
    earliest = min(versions.values())
    if earliest[0] != 1:
        return
    tied = [v for v, key in versions.items() if key[:2] == earliest[:2]]
    if len(tied) < 2:
        return
    day = earliest[1]
    query = (select(Post.version, func.min(Post.created_at)).select_from(IssuePost)
             .join(Post, Post.id == IssuePost.post_id)
             .where(IssuePost.issue_id == issue_id, Post.created_at >= _midnight(day),
                    Post.created_at < _midnight(day + timedelta(days=1)), Post.version.in_(tied))
             .group_by(Post.version))
    for version, first in session.execute(query):
        versions[str(version)] = (1, day, str(first))
