"""The sums of a report's part days, each read from the posts once.

The rollups hold whole UTC days; a period cut mid-day (``voxpop report`` ends at the current minute by
default) reads the hours before its first midnight and after its last one, and the day its halves meet,
from the posts. The report needs several sums of each such range (volume and labels per period half, the
totals before and in the last week, the job map's steps): one statement per range reads its posts and their
labels once into a materialized CTE and returns the three small aggregates the sums are made of, and
:class:`PartDays` keeps them for the other readers of the same range within one report (on any thread).

The figures equal the posts queries' (:mod:`voxpop.report.queries`): a post counts for its own
product and for every other product of the report it is linked to (``post_products``); the labels in force
win (a person's over the model's); a skipped post counts in the volume only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from store.curation import effective_columns
from store.models import POST_SKIPPED, Classification, Post, PostLabel, PostProduct
from voxpop.report.queries import star_expr


@dataclass
class PartDaySums:
    """The aggregates of one range's posts.

    ``volume``: (pid, half, source, skipped, star, n, r_sum, r_sq) over every post; ``labels``: (pid, half,
    need_type, unmet, top_job, sentiment, n, latest post id) over the classified posts that are not skipped;
    ``steps``: (pid, step, sentiment, unmet, n) over the same posts.
    """

    volume: list[tuple[Any, ...]] = field(default_factory=list)
    labels: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)


def part_day_query(dialect: str, ids: Sequence[int], start: datetime, end: datetime, cut: datetime | None) -> Any:
    """One statement: the three aggregates of the posts created in ``[start, end)``; ``half`` is 1 from
    ``cut`` on (0 throughout without one)."""
    labels = effective_columns()
    ids = list(ids)
    columns = [Post.id,
               (case((Post.created_at >= cut, 1), else_=0) if cut is not None else literal(0)).label("half"),
               Post.source, case((Post.status == POST_SKIPPED, 1), else_=0).label("skipped"),
               star_expr(dialect).label("star"), Post.rating,
               case((Classification.id.is_not(None), 1), else_=0).label("classified"),
               labels["need_type"], labels["unmet_need"], labels["top_job"], labels["sentiment"], labels["step"]]

    def with_labels(query: Any) -> Any:  # one probe of each post's classification and of a person's label
        return (query.outerjoin(Classification, Classification.post_id == Post.id)
                .outerjoin(PostLabel, PostLabel.post_id == Post.id))

    in_range = (Post.created_at >= start, Post.created_at < end)

    def linked_to(post_id: Any, product_id: Any) -> Any:  # a link of the post to another of these products
        return and_(PostProduct.post_id == post_id, PostProduct.product_id != product_id,
                    PostProduct.product_id.in_(ids))

    if dialect == "postgresql":
        # The range's posts once (the date index), kept when of these products or linked to one of them, each
        # with its labels; then a row per product it counts for. One heap visit and one label probe a post.
        ranged = (with_labels(select(Post.product_id, *columns).select_from(Post))
                  .where(*in_range, Post.product_id.in_(ids) | exists().where(linked_to(Post.id, Post.product_id)))
                  .cte("ranged").prefix_with("MATERIALIZED"))
        rest = [c for c in ranged.c if c.key != "product_id"]
        own = select(ranged.c.product_id.label("pid"), *rest).where(ranged.c.product_id.in_(ids))
        extra = (select(PostProduct.product_id.label("pid"), *rest).select_from(ranged)
                 .join(PostProduct, linked_to(ranged.c.id, ranged.c.product_id)))
    else:
        # SQLite: these products' posts from the covering report index (no visit of the posts' rows), and the
        # range's other posts from the date index with a probe of their links: faster here than one read of the
        # range as above (the dashboard's comparison over a year of 1M posts, cold: p95 251 ms against 337 ms).
        own = with_labels(select(Post.product_id.label("pid"), *columns).select_from(Post)).where(
            Post.product_id.in_(ids), *in_range)
        extra = with_labels(select(PostProduct.product_id.label("pid"), *columns).select_from(Post)
                            .join(PostProduct, linked_to(Post.id, Post.product_id))).where(*in_range)
    part = union_all(own, extra).cte("part").prefix_with("MATERIALIZED")
    p = part.c
    labelled = and_(p.classified == 1, p.skipped == 0)
    nothing = null()
    volume = (select(literal("v").label("kind"), p.pid, p.half, p.source, p.skipped, p.star, nothing, nothing,
                     nothing, nothing, func.count().label("n"), func.sum(p.rating), func.sum(p.rating * p.rating),
                     nothing)
              .group_by(p.pid, p.half, p.source, p.skipped, p.star))
    by_label = (select(literal("c"), p.pid, p.half, nothing, nothing, nothing, p.need_type, p.unmet_need, p.top_job,
                       p.sentiment, func.count(), nothing, nothing, func.max(p.id))
                .where(labelled).group_by(p.pid, p.half, p.need_type, p.unmet_need, p.top_job, p.sentiment))
    by_step = (select(literal("s"), p.pid, literal(0), nothing, nothing, nothing, nothing, p.unmet_need, p.step,
                      p.sentiment, func.count(), nothing, nothing, nothing)
               .where(labelled).group_by(p.pid, p.step, p.sentiment, p.unmet_need))
    return union_all(volume, by_label, by_step)


def sums_of(rows: Sequence[Sequence[Any]]) -> PartDaySums:
    """:func:`part_day_query`'s rows as :class:`PartDaySums`."""
    out = PartDaySums()
    for kind, pid, half, source, skipped, star, need_type, unmet, job_or_step, sentiment, n, r_sum, r_sq, latest \
            in rows:
        if kind == "v":
            out.volume.append((pid, int(half), source, int(skipped), None if star is None else int(star), int(n),
                               float(r_sum or 0.0), float(r_sq or 0.0)))
        elif kind == "c":
            out.labels.append((pid, int(half), need_type, unmet, job_or_step, sentiment, int(n), int(latest or 0)))
        else:
            out.steps.append((pid, job_or_step, sentiment, unmet, int(n)))
    return out


class PartDays:
    """The part-day sums of one report's products, each range read once whichever reader (thread) asks first.

    A range is keyed by its start, end and the cut of its halves (None when it lies in one half or the reader
    does not split it); the key of a range that a reader splits differs from an unsplit one, so both are right.
    """

    def __init__(self, dialect: str, ids: Sequence[int]) -> None:
        self.dialect, self.ids = dialect, list(ids)
        self._lock = threading.Lock()
        self._found: dict[tuple[datetime, datetime, datetime | None], Future[PartDaySums]] = {}

    def claim(self, start: datetime, end: datetime, cut: datetime | None = None
              ) -> tuple[Future[PartDaySums], Any | None]:
        """The range's future and, when this caller is the first to ask, the statement it must run and pass
        to :meth:`settle` (else None: another reader runs it)."""
        key = (start, end, cut)
        with self._lock:
            future = self._found.get(key)
            if future is not None:
                return future, None
            future = self._found[key] = Future()
        try:
            return future, part_day_query(self.dialect, self.ids, start, end, cut)
        except BaseException as error:  # never leave another reader waiting on a range nobody will read
            self.settle(future, error)
            raise

    @staticmethod
    def settle(future: Future[PartDaySums], rows: Sequence[Sequence[Any]] | BaseException) -> None:
        """Give a claimed range its rows (or the error its statement raised, for the readers waiting on it)."""
        if isinstance(rows, BaseException):
            future.set_exception(rows)
        else:
            future.set_result(sums_of(rows))

    def read(self, session: Session, start: datetime, end: datetime, cut: datetime | None = None) -> PartDaySums:
        """The range's sums: read now on ``session`` when nobody has, else the other reader's."""
        future, query = self.claim(start, end, cut)
        if query is not None:
            try:
                rows = list(session.connection().execute(query))
            except BaseException as error:
                self.settle(future, error)
                raise
            self.settle(future, rows)
        return future.result()
