"""Rollups: sums of posts per product, day and labels, kept exact in the transaction of every change.

The rule for writers: every write to ``posts``, ``post_products``, ``classifications``, ``post_labels``
or ``issue_posts`` goes through :func:`tracking` (or, for issue membership, :func:`refresh_issues`), in
the same session and transaction as the write, so the rollups never drift from the posts:

    with rollups.tracking(session, post_ids):
        ...  # insert / update / delete those posts, their classification, labels or links

:func:`tracking` reads the rollup contribution of the posts before the change and after it and applies
the difference (delta updates: subtract the old row's contribution, add the new). Store functions that
already do this: ``store.repo.upsert_posts`` and ``delete_posts``, ``store.claims.save_results``,
``voxpop.curation`` (labels, merge, split, move), ``voxpop.learning`` (apply, rescore),
``alerts.issues`` (detection's issue members). ``voxpop rollup --rebuild`` recomputes everything from
the posts (:func:`rebuild`); :func:`verify` compares without writing.

A post counts once for every product it belongs to (its own ``product_id`` plus its ``post_products``
links), on the UTC day it was created. Its labels are the ones readers use: a person's label wins over
the model's (:func:`store.curation.effective_columns`); a skipped post, or one not classified yet, has
none (``''``). Missing dimensions are stored as ``''`` (``NO_DAY`` for a post without a date) so the
primary key never holds NULL and upserts work the same on SQLite and PostgreSQL.

Per issue (``rollup_issue_days``), a member post counts on its UTC day with what the report reads of it:
its step, top job and sentiment in force, whether it is classified, its app version. A tracked change
moves those rows by the same before/after difference as the product rows; a change of membership
written outside a tracking block is followed by :func:`refresh_issues`, which recounts the issue.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from store.curation import effective_columns
from store.models import (
    POST_SKIPPED,
    Classification,
    Issue,
    IssuePost,
    Post,
    PostLabel,
    PostProduct,
    RollupDay,
    RollupIssueDay,
    RollupState,
)
from voxpop.core.timeutil import utcnow

NO_DAY = date(1, 1, 1)  # the day of a post without a date (never inside a report period)
DIMS = ("product_id", "span", "day", "source", "country", "version", "language", "skipped", "sentiment", "need_type",
        "unmet", "top_job", "step")
MEASURES = ("posts", "rating_n", "rating_sum", "rating_sq", "star1", "star2", "star3", "star4", "star5",
            "negative", "neutral", "positive")
CHUNK = 500
DAY, WEEK = 1, 7  # span of a rollup row: one UTC day, or the Monday-to-Sunday week starting on its ``day``
# Compact rows (migration 0021) for the report's two cubes: the same table, fewer dimensions, so a year of a
# report reads a few thousand rows instead of tens of thousands. The other dimensions hold their empty value.
# Volume: product, source, skipped, sentiment (every post; sums of posts, ratings and stars), per week only: the
# days at a period's ends read the full day rows, so an import (every post on its own day) writes few more rows.
VOLUME_WEEK = 107
# Labels: product, sentiment, need type, unmet, top job and step (labelled posts only; posts and the newest unmet
# post). The step joined them in migration 0022, so the job map reads these rows and not the full week rows.
LABELS_DAY, LABELS_WEEK, LABELS_MONTH = 201, 207, 230  # LABELS_MONTH: the calendar month starting on ``day``
SPANS = (DAY, WEEK, VOLUME_WEEK, LABELS_DAY, LABELS_WEEK, LABELS_MONTH)
_COUNTRY = re.compile(r"^(?:appstore|googleplay):([a-z]{2})$")
Key = tuple[Any, ...]
# Per-issue rows: (issue_id, day, step, top_job, sentiment, version, classified) -> member posts.
ISSUE_DIMS = ("issue_id", "day", "step", "top_job", "sentiment", "version", "classified")
IssueKey = tuple[Any, ...]
_DAYS = cast(Table, RollupDay.__table__)
_ISSUE_DAYS = cast(Table, RollupIssueDay.__table__)


@dataclass
class Cell:
    """The measures of one rollup row; ``latest`` is the newest post id of a labelled unmet-need cell."""

    values: list[float]
    latest: int = 0


# ---------------------------------------------------------------- contributions of posts


def _post_query() -> Any:
    labels = effective_columns()
    return (select(Post.id, Post.product_id, Post.created_at, Post.source, Post.found_by, Post.version,
                   Post.language, Post.rating, Post.status, Classification.id.label("class_id"),
                   labels["sentiment"], labels["need_type"], labels["unmet_need"], labels["top_job"],
                   labels["step"])
            .select_from(Post)
            .outerjoin(Classification, Classification.post_id == Post.id)
            .outerjoin(PostLabel, PostLabel.post_id == Post.id))


def _links(session: Session, ids: Sequence[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for post_id, product_id in session.execute(
            select(PostProduct.post_id, PostProduct.product_id).where(PostProduct.post_id.in_(ids))):
        out[post_id].add(product_id)
    return out


def country_of(source: str, found_by: str | None) -> str:
    """The store country a review came from (``appstore:us`` -> ``us``), else ``''``."""
    match = _COUNTRY.match(f"{source}:{(found_by or '').split(':', 1)[-1]}") if found_by else None
    return match.group(1) if match else ""


def _day(value: datetime | str | None) -> date:
    if value is None:
        return NO_DAY
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.date()


def week_of(day: date) -> date:
    """The Monday of the day's week (``NO_DAY`` stays itself)."""
    return day if day == NO_DAY else day - timedelta(days=day.weekday())


def month_of(day: date) -> date:
    """The first day of the day's month (``NO_DAY`` stays itself)."""
    return day if day == NO_DAY else day.replace(day=1)


def span_start(day: date, span: int) -> date:
    """The first day of the ``span`` row that holds ``day``."""
    length = span % 100
    return month_of(day) if length == 30 else week_of(day) if length == 7 else day


def span_end(day: date, span: int) -> date:
    """The day after the last day of the ``span`` row starting on ``day``."""
    if span % 100 == 30:
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=span % 100)


def _dims(day: date, source: str, rest: tuple[Any, ...], labelled: bool) -> list[tuple[Any, ...]]:
    """The rollup rows one post adds to, less the product: full rows (every dimension) per day and week,
    compact volume rows per week, and for a labelled post compact label rows per day, week and month.
    ``rest`` is (country, version, language, skipped, sentiment, need, unmet, job, step)."""
    week = week_of(day)
    full = (source, *rest)
    volume = (source, "", "", "", rest[3], rest[4], "", 0, "", "")
    out = [(DAY, day, *full), (WEEK, week, *full), (VOLUME_WEEK, week, *volume)]
    if labelled:
        labels = ("", "", "", "", 0, *rest[4:9])
        out += [(LABELS_DAY, day, *labels), (LABELS_WEEK, week, *labels), (LABELS_MONTH, month_of(day), *labels)]
    return out


def add_rows(cells: dict[Key, Cell], rows: Iterable[Any], links: Mapping[int, set[int]],
             only: set[int] | None = None, sign: int = 1) -> None:
    """Add (``sign`` -1: subtract) the contribution of post rows (from :func:`_post_query`) to ``cells``."""
    for r in rows:
        skipped = r.status == POST_SKIPPED
        labelled = r.class_id is not None and not skipped
        if labelled:
            sentiment, need, unmet = r.sentiment or "", r.need_type or "", int(bool(r.unmet_need))
            job, step = r.top_job or "", r.step or ""
        else:
            sentiment = need = job = step = ""
            unmet = 0
        rating = r.rating
        values = [0.0] * len(MEASURES)
        values[0] = 1
        if rating is not None:
            rating = float(rating)
            values[1], values[2], values[3] = 1, rating, rating * rating
            star = int(rating + 0.5)
            if 1 <= star <= 5:
                values[3 + star] = 1
        if sentiment in ("negative", "neutral", "positive"):
            values[MEASURES.index(sentiment)] = 1
        latest = int(r.id) if labelled and unmet else 0
        day = _day(r.created_at)
        rest = (country_of(r.source, r.found_by), r.version or "", r.language or "", int(skipped),
                sentiment, need, unmet, job, step)
        changed = [(i, sign * v) for i, v in enumerate(values) if v]
        dims = _dims(day, r.source, rest, labelled and bool(sentiment))
        for product_id in {r.product_id, *links.get(r.id, ())} if r.id in links else (r.product_id,):
            if only is not None and product_id not in only:
                continue
            for tail in dims:
                key = (product_id, *tail)
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = Cell([0.0] * len(MEASURES))
                for i, v in changed:
                    cell.values[i] += v
                # The compact volume rows have no newest post (no reader asks theirs).
                if sign > 0 and latest > cell.latest and key[1] != VOLUME_WEEK:
                    cell.latest = latest


def issue_key(issue_id: int, r: Any) -> IssueKey:
    """The per-issue rollup row a member post counts in (``r``: a row of :func:`_post_query`'s columns)."""
    return (issue_id, _day(r.created_at), r.step or "", r.top_job or "", r.sentiment or "", r.version or "",
            int(r.class_id is not None))


def post_cells(session: Session, post_ids: Iterable[int], sign: int = 1, cells: dict[Key, Cell] | None = None,
               issue_cells: dict[IssueKey, int] | None = None) -> dict[Key, Cell]:
    """The rollup contribution of the given posts as they are now in the session's transaction; with
    ``issue_cells``, their contribution to the per-issue rows of the issues they are members of as well."""
    cells = {} if cells is None else cells
    ids = sorted(set(post_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = session.execute(_post_query().where(Post.id.in_(chunk))).all()
        add_rows(cells, rows, _links(session, chunk), sign=sign)
        if issue_cells is not None:
            members: dict[int, list[int]] = defaultdict(list)
            for post_id, issue_id in session.execute(
                    select(IssuePost.post_id, IssuePost.issue_id).where(IssuePost.post_id.in_(chunk))):
                members[post_id].append(issue_id)
            for r in rows:
                for issue_id in members.get(r.id, ()):
                    key = issue_key(issue_id, r)
                    issue_cells[key] = issue_cells.get(key, 0) + sign
    return cells


def raw_cells(session: Session, product_ids: Sequence[int] | None = None, since: datetime | None = None,
              until: datetime | None = None) -> dict[Key, Cell]:
    """The rollups computed from the posts: of some products (own or linked) and a time range, or all."""
    cells: dict[Key, Cell] = {}
    only = set(product_ids) if product_ids is not None else None
    for rows, links in _scan(session, product_ids, since, until):
        add_rows(cells, rows, links, only)
    return cells


def _scan(session: Session, product_ids: Sequence[int] | None, since: datetime | None, until: datetime | None,
          *, newest_first: bool = False, batch: int = 5000) -> Iterator[tuple[Sequence[Any], dict[int, set[int]]]]:
    """The posts of some products (own or linked) and a time range, in batches by id, with their links."""
    cond = []
    if since is not None:
        cond.append(Post.created_at >= since)
    if until is not None:
        cond.append(Post.created_at < until)
    if product_ids is not None:
        linked = select(PostProduct.post_id).where(PostProduct.product_id.in_(list(product_ids)))
        cond.append(Post.product_id.in_(list(product_ids)) | Post.id.in_(linked))
    last: int | None = None
    while True:
        query = _post_query().where(*cond)
        if last is not None:
            query = query.where(Post.id < last if newest_first else Post.id > last)
        rows = session.execute(query.order_by(Post.id.desc() if newest_first else Post.id).limit(batch)).all()
        if not rows:
            return
        links: dict[int, set[int]] = defaultdict(set)
        ids = [r.id for r in rows]
        for start in range(0, len(ids), CHUNK):
            links.update(_links(session, ids[start:start + CHUNK]))
        yield rows, links
        last = rows[-1].id


# ---------------------------------------------------------------- applying changes


def _insert(session: Session) -> Any:
    """The dialect's INSERT (with ON CONFLICT); imported here so the CLI starts without both dialects."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    return dialect.insert


def _row(key: Key, cell: Cell) -> dict[str, Any]:
    row = dict(zip(DIMS, key, strict=True))
    row.update({m: (int(v) if m not in ("rating_sum", "rating_sq") else v)
                for m, v in zip(MEASURES, cell.values, strict=True)})
    row["latest"] = cell.latest
    return row


def _delete_emptied(session: Session, table: Table, dims: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> None:
    """Delete the rows of these keys (that lost posts) which hold no post any more."""
    if keys:
        session.execute(delete(table).where(table.c.posts <= 0, *[table.c[d] == bindparam("k_" + d) for d in dims]),
                        [{"k_" + d: v for d, v in zip(dims, k, strict=True)} for k in keys])


def apply(session: Session, before: dict[Key, Cell], after: dict[Key, Cell]) -> int:
    """Apply ``after - before`` to the rollup rows; returns how many rows changed."""
    delta: dict[Key, Cell] = {}
    shrunk: dict[Key, int] = {}  # labelled unmet cells that lost a post: key -> the newest id they lost
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        values = [(new.values[i] if new else 0) - (old.values[i] if old else 0) for i in range(len(MEASURES))]
        new_latest = new.latest if new else 0
        if old is not None and old.latest and old.latest != new_latest:
            shrunk[key] = old.latest
        if any(values) or new_latest:
            delta[key] = Cell(values, new_latest)
    if not delta and not shrunk:
        return 0
    table = _DAYS
    if delta:
        insert = _insert(session)(table)
        bigger = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
        stmt = insert.on_conflict_do_update(
            index_elements=list(DIMS),
            set_={**{m: table.c[m] + insert.excluded[m] for m in MEASURES},
                  "latest": bigger(table.c.latest, insert.excluded.latest)})
        # In key order, so concurrent writers (PostgreSQL workers) lock shared rows in the same order.
        session.execute(stmt, [_row(k, delta[k]) for k in sorted(delta)])
        _delete_emptied(session, table, DIMS, [k for k, c in delta.items() if c.values[0] < 0])
    if shrunk:
        _fix_latest(session, shrunk)
    return len(delta)


def _fix_latest(session: Session, shrunk: dict[Key, int]) -> None:
    """Recompute ``latest`` of cells whose newest post left them (only those, from the posts of their day, week
    or month, newest first: the scan stops when every stale cell has found its newest post)."""
    table = _DAYS
    days: dict[tuple[int, int, date], list[Key]] = defaultdict(list)
    for key in shrunk:
        days[(key[0], key[1], key[2])].append(key)
    for (product_id, span, day), keys in days.items():
        stored = {tuple(_norm(d, v) for d, v in zip(DIMS, r[:len(DIMS)], strict=True)): r.latest
                  for r in session.execute(select(*[table.c[d] for d in DIMS], table.c.latest)
                                           .where(table.c.product_id == product_id, table.c.span == span,
                                                  table.c.day == day))}
        stale = [k for k in keys if k in stored and stored[k] <= shrunk[k]]
        if not stale:
            continue
        start = end = None
        if day != NO_DAY:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            stop = span_end(day, span)
            end = datetime(stop.year, stop.month, stop.day, tzinfo=UTC)
        found: dict[Key, int] = {}
        for rows, links in _scan(session, [product_id], start, end, newest_first=True, batch=1000):
            fresh: dict[Key, Cell] = {}
            add_rows(fresh, rows, links, {product_id})
            for k in stale:
                if k not in found and k in fresh and fresh[k].latest:
                    found[k] = fresh[k].latest  # the batch's newest: older batches hold only older posts
            if len(found) == len(stale):
                break
        session.execute(update(table).where(*[table.c[d] == bindparam("k_" + d) for d in DIMS])
                        .values(latest=bindparam("v_latest")),
                        [{**{"k_" + d: v for d, v in zip(DIMS, k, strict=True)}, "v_latest": found.get(k, 0)}
                         for k in stale])


class Tracker:
    """The posts one change touches, with their contribution before it (see :func:`tracking`)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ids: set[int] = set()
        self.before: dict[Key, Cell] = {}
        self.known: dict[Key, Cell] = {}  # contribution of inserted posts, from the values written
        self.issues_before: dict[IssueKey, int] = {}

    def add(self, post_ids: Iterable[int]) -> None:
        """Track posts that exist now: call before writing to them."""
        new = sorted(set(post_ids) - self.ids)
        if not new:
            return
        post_cells(self.session, new, cells=self.before, issue_cells=self.issues_before)
        self.ids.update(new)

    def created(self, post_ids: Iterable[int]) -> None:
        """Track posts this change inserted (they had no contribution before)."""
        self.ids.update(post_ids)

    def inserted(self, rows: Iterable[Any], links: dict[int, set[int]]) -> None:
        """Posts this change inserted, added from the values written (no read back): new posts have no
        classification, labels or issues yet. ``rows`` need the attributes :func:`add_rows` reads."""
        add_rows(self.known, rows, links)

    def finish(self) -> None:
        self.session.flush()
        issues_after: dict[IssueKey, int] = {}
        after = post_cells(self.session, self.ids, cells=self.known, issue_cells=issues_after)
        apply(self.session, self.before, after)
        apply_issues(self.session, self.issues_before, issues_after)


@contextmanager
def tracking(session: Session, post_ids: Iterable[int] = ()) -> Iterator[Tracker]:
    """Keep the rollups exact across writes to these posts (their rows, labels, links or issue membership).

    Yields a :class:`Tracker`: writers that learn more ids inside the block call ``add`` (before writing
    to existing posts) or ``created`` (posts they inserted). The per-issue rows of the posts' issues follow
    by the same difference (a change of a member's date, labels or version; a membership written inside the
    block). Writers that change memberships outside such a block call :func:`refresh_issues`, never both for
    one change. An exception leaves the rollups alone (the transaction that failed rolls both back).
    """
    tracker = Tracker(session)
    tracker.add(post_ids)
    yield tracker
    tracker.finish()


def track_where(session: Session, post_ids_query: Any) -> Any:
    """:func:`tracking` for the posts a ``SELECT post id`` query names (bulk updates with a WHERE)."""
    return tracking(session, list(session.scalars(post_ids_query)))


def _issue_member_cells(session: Session, issue_ids: Sequence[int]) -> dict[IssueKey, int]:
    """The per-issue rows of these issues computed from their members as they are now."""
    labels = effective_columns()
    counts: dict[IssueKey, int] = defaultdict(int)
    for start in range(0, len(issue_ids), CHUNK):
        query = (select(IssuePost.issue_id, Post.created_at, Post.version, Classification.id.label("class_id"),
                        labels["step"], labels["top_job"], labels["sentiment"])
                 .select_from(IssuePost).join(Post, Post.id == IssuePost.post_id)
                 .outerjoin(Classification, Classification.post_id == Post.id)
                 .outerjoin(PostLabel, PostLabel.post_id == Post.id)
                 .where(IssuePost.issue_id.in_(issue_ids[start:start + CHUNK])))
        for r in session.execute(query):
            counts[issue_key(r.issue_id, r)] += 1
    return counts


def _issue_row(key: IssueKey, posts: int) -> dict[str, Any]:
    return {**dict(zip(ISSUE_DIMS, key, strict=True)), "posts": posts}


def refresh_issues(session: Session, issue_ids: Iterable[int]) -> None:
    """Recompute the per-issue rows of these issues from their members (after a change of membership)."""
    ids = sorted(set(issue_ids))
    table = _ISSUE_DAYS
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        session.execute(delete(table).where(table.c.issue_id.in_(chunk)))
        counts = _issue_member_cells(session, chunk)
        if counts:
            # An upsert: a concurrent refresh of the same issue may have inserted its rows meanwhile.
            insert = _insert(session)(table)
            session.execute(insert.on_conflict_do_update(index_elements=list(ISSUE_DIMS),
                                                         set_={"posts": insert.excluded.posts}),
                            [_issue_row(k, n) for k, n in sorted(counts.items())])


def apply_issues(session: Session, before: dict[IssueKey, int], after: dict[IssueKey, int]) -> int:
    """Apply ``after - before`` to the per-issue rows of issues that still exist; returns the rows changed."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}
    delta = {k: n for k, n in delta.items() if n}
    if not delta:
        return 0
    wanted = sorted({k[0] for k in delta})
    alive: set[int] = set()
    for start in range(0, len(wanted), CHUNK):  # an issue deleted in the block took its rows with it
        alive.update(session.scalars(select(Issue.id).where(Issue.id.in_(wanted[start:start + CHUNK]))))
    delta = {k: n for k, n in delta.items() if k[0] in alive}
    if not delta:
        return 0
    table = _ISSUE_DAYS
    insert = _insert(session)(table)
    # In key order, so concurrent writers lock shared rows in the same order (as ``apply``).
    session.execute(insert.on_conflict_do_update(index_elements=list(ISSUE_DIMS),
                                                 set_={"posts": table.c.posts + insert.excluded.posts}),
                    [_issue_row(k, n) for k, n in sorted(delta.items())])
    _delete_emptied(session, table, ISSUE_DIMS, [k for k, n in delta.items() if n < 0])
    return len(delta)


# ---------------------------------------------------------------- readers


def version_days(session: Session, product_id: int, before: date) -> dict[str, tuple[date, int]]:
    """Per app version of a product, from the rollups of the days before ``before``: the first UTC day with a
    labelled post of it and its labelled posts (the release watch's order and sizes without reading the posts).

    Whole weeks are read from the week rows (a seventh of the day rows); the first day of a version is then
    exact where it decides an order: within the week of ``before`` and where two versions first appear in the
    same week. Otherwise the day given is the Monday of the version's first week.
    """
    t = _DAYS
    monday = week_of(before)

    def firsts(span: int, start: date, stop: date, versions: Sequence[str] = ()) -> list[Any]:
        where = [t.c.product_id == product_id, t.c.span == span, t.c.day >= start, t.c.day < stop,
                 t.c.version != "", t.c.sentiment != ""]
        if versions:
            where.append(t.c.version.in_(list(versions)))
        return list(session.execute(select(t.c.version, func.min(t.c.day), func.sum(t.c.posts))
                                    .where(*where).group_by(t.c.version)))

    found: dict[str, tuple[date, int]] = {}
    for span, start, stop in ((WEEK, date(1, 1, 2), monday), (DAY, monday, before)):
        for version, first, n in firsts(span, start, stop):
            day = _norm("day", first)
            had = found.get(version)
            found[version] = (min(day, had[0]) if had else day, int(n) + (had[1] if had else 0))
    by_week: dict[date, list[str]] = defaultdict(list)
    for version, (day, _) in found.items():
        if day < monday:
            by_week[day].append(version)
    for week, versions in by_week.items():
        if len(versions) > 1:  # several versions first seen that week: their first days decide the order
            for version, first, _ in firsts(DAY, week, week + timedelta(days=7), versions):
                found[version] = (_norm("day", first), found[version][1])
    return found


# ---------------------------------------------------------------- rebuild and verify


def stored_cells(session: Session, product_ids: Sequence[int] | None = None) -> dict[Key, Cell]:
    """The rollup rows as stored (of some products, or all)."""
    table = _DAYS
    query = select(table)
    if product_ids is not None:
        query = query.where(table.c.product_id.in_(list(product_ids)))
    out: dict[Key, Cell] = {}
    for r in session.execute(query).mappings():
        key = tuple(_norm(d, r[d]) for d in DIMS)
        out[key] = Cell([float(r[m]) for m in MEASURES], int(r["latest"] or 0))
    return out


def _norm(dim: str, value: Any) -> Any:
    if dim == "day" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _issue_rows(session: Session, product_ids: Sequence[int] | None) -> tuple[set[tuple[Any, ...]], list[int]]:
    """The stored per-issue rows (key and posts) and the ids of the issues of these products (or all)."""
    issues = select(Issue.id)
    if product_ids is not None:
        issues = issues.where(Issue.product_id.in_(list(product_ids)))
    ids = list(session.scalars(issues))
    t = _ISSUE_DAYS
    query = select(*[t.c[d] for d in ISSUE_DIMS], t.c.posts)
    if product_ids is not None:
        query = query.where(t.c.issue_id.in_(issues))
    stored = {(*(_norm(d, v) for d, v in zip(ISSUE_DIMS, r[:-1], strict=True)), int(r[-1]))
              for r in session.execute(query)}
    return stored, ids


def differences(stored: dict[Key, Cell], fresh: dict[Key, Cell]) -> int:
    """How many rollup rows differ between two sets of cells (a tolerance of 1e-6 on rating sums)."""
    bad = 0
    for key in set(stored) | set(fresh):
        a, b = stored.get(key), fresh.get(key)
        if a is None or b is None:
            bad += 1
        elif a.latest != b.latest or any(abs(x - y) > 1e-6 for x, y in zip(a.values, b.values, strict=True)):
            bad += 1
    return bad


def verify(session: Session, product_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Compare the stored rollups with a fresh aggregation of the posts (writes only the verified time)."""
    fresh = raw_cells(session, product_ids)
    bad = differences(stored_cells(session, product_ids), fresh)
    stored_issues, issue_ids = _issue_rows(session, product_ids)
    want = _fresh_issue_rows(session, issue_ids)
    bad_issues = len(stored_issues ^ want)
    _mark(session, "verified", {"rows": len(fresh), "differences": bad, "issue_differences": bad_issues})
    return {"rows": len(fresh), "differences": bad, "issue_rows": len(want), "issue_differences": bad_issues}


def _fresh_issue_rows(session: Session, issue_ids: Sequence[int]) -> set[tuple[Any, ...]]:
    return {(*k, n) for k, n in _issue_member_cells(session, issue_ids).items()}


def rebuild(session: Session, product_ids: Sequence[int] | None = None, *,
            cells: dict[Key, Cell] | None = None) -> dict[str, Any]:
    """Recompute the rollups of some products (or all) from the posts; says how many rows were wrong.

    ``cells``: the contributions of every post of those products when the caller already has them (a bulk
    loader that summed them with :func:`add_rows` as it wrote the posts), instead of reading the posts back.
    """
    fresh = raw_cells(session, product_ids) if cells is None else cells
    bad = differences(stored_cells(session, product_ids), fresh)
    table = _DAYS
    if product_ids is None:
        session.execute(delete(table))
    else:
        session.execute(delete(table).where(table.c.product_id.in_(list(product_ids))))
    rows = [_row(k, c) for k, c in fresh.items()]
    for start in range(0, len(rows), 5000):
        session.execute(table.insert(), rows[start:start + 5000])
    stored_issues, issue_ids = _issue_rows(session, product_ids)
    if product_ids is None:
        session.execute(delete(_ISSUE_DAYS))
    refresh_issues(session, issue_ids)
    bad_issues = len(stored_issues ^ _fresh_issue_rows(session, issue_ids))
    _mark(session, "rebuilt", {"rows": len(rows), "differences": bad, "issue_differences": bad_issues})
    return {"rows": len(rows), "differences": bad, "issue_differences": bad_issues}


def _mark(session: Session, what: str, details: dict[str, Any]) -> None:
    now = utcnow()
    row = session.get(RollupState, what)
    if row is None:
        session.add(RollupState(name=what, at=now, details=details))
    else:
        row.at, row.details = now, details
    session.flush()


DUE = "rebuild_due"  # a migration created the rollups of a store that already had posts


def rebuild_if_due(session: Session) -> bool:
    """Rebuild the rollups when a migration left a rebuild due (run with the schema at head); says if it did."""
    due = session.get(RollupState, DUE)
    if due is None:
        return False
    rebuild(session)
    session.delete(due)
    session.flush()
    return True


def state(session: Session) -> dict[str, Any]:
    """When the rollups were last rebuilt and verified, with what each found (rows, rows that differed)."""
    out: dict[str, Any] = {"rebuilt": None, "verified": None}  # None: never (kept by every write since)
    for row in session.scalars(select(RollupState).where(RollupState.name != DUE)):
        out[row.name] = {"at": row.at.isoformat() if row.at else None, **(row.details or {})}
    return out


__all__ = ["DIMS", "ISSUE_DIMS", "LABELS_DAY", "LABELS_MONTH", "LABELS_WEEK", "MEASURES", "NO_DAY", "SPANS",
           "VOLUME_WEEK", "Cell", "IssueKey", "Key", "add_rows", "apply", "apply_issues", "country_of", "differences",
           "issue_key", "month_of", "post_cells", "raw_cells", "rebuild", "rebuild_if_due", "refresh_issues",
           "span_end", "span_start", "state", "stored_cells", "track_where", "tracking", "verify", "version_days"]
