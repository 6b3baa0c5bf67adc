"""The job map's reads of the store, in one place: counts per product x step, issues per step, and the
posts segment discovery needs.

Every function takes a session, product ids and a period ``[since, until)`` and returns plain dicts,
so the sums can later come from rollup tables without touching the callers. A post counts for its own
product and for any extra product it is linked to (``post_products``), as in the rest of the report;
a person's correction of sentiment or unmet need wins over the model's (``effective_columns``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Text, case, cast, func, select, true
from sqlalchemy.orm import Session

from store.curation import effective_columns
from store.models import POST_SKIPPED, Classification, Issue, IssuePost, Post, PostLabel, PostProduct
from voxpop.report.queries import extra_scope, in_range
from voxpop.report.segments import SegmentPost, main_jobs

INACTIVE_STATES = ("candidate", "merged")
PER_PRODUCT = 3000  # segments read the newest posts of each product: enough for contexts, cheap to scan
CHUNK = 500


def _empty_cell() -> dict[str, int]:
    return {"n": 0, "negative": 0, "positive": 0, "unmet": 0}


def step_counts(session: Session, ids: Sequence[int], since: datetime, until: datetime,
                posts: Any = Post) -> dict[int, dict[str | None, dict[str, int]]]:
    """Per product and step (None: not placed on a step): classified posts, negative, positive, unmet."""
    out: dict[int, dict[str | None, dict[str, int]]] = defaultdict(lambda: defaultdict(_empty_cell))
    if not ids or not any_placed(session):
        return out
    labels = effective_columns()
    dims = [labels["step"], labels["sentiment"], labels["unmet_need"]]
    own = posts.product_id.label("pid")
    extra = PostProduct.product_id.label("pid")
    base = (select(own, *dims, func.count().label("n")).select_from(posts)
            .join(Classification, Classification.post_id == posts.id)
            .outerjoin(PostLabel, PostLabel.post_id == posts.id)
            .where(posts.status != POST_SKIPPED, posts.product_id.in_(list(ids)), posts.created_at >= since,
                   posts.created_at < until)
            .group_by(own, *dims))
    linked = (extra_scope(select(extra, *dims, func.count().label("n")), list(ids), since, until, posts)
              .join(Classification, Classification.post_id == posts.id)
              .outerjoin(PostLabel, PostLabel.post_id == posts.id)
              .where(posts.status != POST_SKIPPED).group_by(extra, *dims))
    for query in (base, linked):
        for row in session.execute(query):
            cell = out[row.pid][row.step or None]
            n = int(row.n)
            cell["n"] += n
            if row.sentiment == "negative":
                cell["negative"] += n
            elif row.sentiment == "positive":
                cell["positive"] += n
            if row.unmet_need:
                cell["unmet"] += n
    return out


def any_placed(session: Session) -> bool:
    """Whether any classification has a step (one probe of the step index): until then the map is empty."""
    return session.execute(select(Classification.id).where(Classification.step.is_not(None)).limit(1)).first() \
        is not None


def step_issue_counts(session: Session, ids: Sequence[int], since: datetime, until: datetime,
                      posts: Any = Post, narrow: bool = False) -> dict[tuple[int, str, int], int]:
    """Posts of the products' active issues in the period per (product, step, issue): classified posts on a
    step only (a person's step wins, as in step_counts). ``narrow``: a short range (part of a day), read from
    its posts (date index) to their memberships, not from every member of every issue."""
    if not ids:
        return {}
    step = effective_columns()["step"]
    query = (select(Issue.product_id, step, IssuePost.issue_id, func.count().label("n"))
             .select_from(IssuePost).join(Issue, Issue.id == IssuePost.issue_id)
             .join(posts, posts.id == IssuePost.post_id).join(Classification, Classification.post_id == posts.id)
             .outerjoin(PostLabel, PostLabel.post_id == posts.id)
             .where(Issue.product_id.in_(list(ids)), Issue.state.not_in(INACTIVE_STATES),
                    step.is_not(None), posts.created_at >= since, posts.created_at < until)
             .group_by(Issue.product_id, step, IssuePost.issue_id))
    if narrow:
        query = query.where(IssuePost.post_id.in_(in_range(posts, since, until)))
    return {(r.product_id, r.step, r.issue_id): int(r.n) for r in session.execute(query)}


def issues_by_step(session: Session, counts: dict[tuple[int, str, int], int]
                   ) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Per product and step, the issues of :func:`step_issue_counts`' counts with their details, most first."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    info = issue_info(session, {issue_id for _, _, issue_id in counts})
    for (product_id, step, issue_id), n in counts.items():
        if issue_id in info and n:
            out[product_id][step].append({**info[issue_id], "posts_on_step": n})
    for steps in out.values():
        for items in steps.values():
            items.sort(key=lambda i: (-i["posts_on_step"], i["issue_id"]))
    return out


def step_issues(session: Session, ids: Sequence[int], since: datetime,
                until: datetime, posts: Any = Post) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Per product and step: the product's active issues with posts on that step in the period, most first."""
    return issues_by_step(session, step_issue_counts(session, ids, since, until, posts))


def issue_info(session: Session, issue_ids: Sequence[int] | set[int]) -> dict[int, dict[str, Any]]:
    """Label, keywords, state and need type of the given issues."""
    ids = sorted(issue_ids)
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        for r in session.execute(select(Issue.id, Issue.label, Issue.keywords, Issue.state, Issue.need_type)
                                 .where(Issue.id.in_(ids[start:start + CHUNK]))):
            out[r.id] = {"issue_id": r.id, "label": r.label, "keywords": list(r.keywords or []), "state": r.state,
                         "need_type": r.need_type}
    return out


def issue_steps(session: Session, issue_id: int) -> dict[str | None, int]:
    """Which steps an issue's posts sit on: ``{step or None: posts}``, most first (a person's step wins)."""
    step = effective_columns()["step"]
    query = (select(step, func.count().label("n")).select_from(IssuePost)
             .join(Classification, Classification.post_id == IssuePost.post_id)
             .outerjoin(PostLabel, PostLabel.post_id == IssuePost.post_id)
             .where(IssuePost.issue_id == issue_id).group_by(step))
    rows = sorted(((r.step or None, int(r.n)) for r in session.execute(query)), key=lambda kv: (-kv[1], str(kv[0])))
    return dict(rows)


def _scored(stored: Any) -> list[tuple[str, float]]:
    """A classification's stored job list as (job, score) pairs (an old plain list of ids scores 1.0)."""
    return [(str(j.get("job") or ""), float(j.get("score", 0.0))) if isinstance(j, dict) else (str(j), 1.0)
            for j in stored or ()]


def _has_jobs(stored: str | None) -> bool:
    """Whether a stored JSON job list (text) names any job: not NULL, ``null`` or an empty list."""
    return stored is not None and stored.strip() not in ("", "null", "[]")


def segment_posts(session: Session, ids: Sequence[int], since: datetime, until: datetime,
                  slug_of: dict[int, str], per_product: int = PER_PRODUCT, posts: Any = Post) -> list[SegmentPost]:
    """The classified posts with a job in the period, the newest ``per_product`` of each product, for segment
    discovery. Only a post's own product counts here (no extra links).

    A post's jobs are every job of its stored job list (or a person's label); its issue is the first
    active issue it belongs to.
    """
    if not ids:
        return []
    labels = effective_columns()
    rows = []
    # Core rows (no ORM result processing): this read is most of the segments' cost.
    connection = session.connection()
    # An unmet-need post's first active issue (a segment's top needs read no other post's), looked up per row
    # in the same query (an index probe each): one round trip per product, not a read of posts then issues.
    first_issue = case((labels["unmet_need"].element == true(),
                        select(func.min(IssuePost.issue_id)).join(Issue, Issue.id == IssuePost.issue_id)
                        .where(IssuePost.post_id == posts.id, Issue.state.not_in(INACTIVE_STATES))
                        .scalar_subquery()), else_=None).label("issue_id")
    # The job lists as their stored JSON text, parsed here: the driver's and SQLAlchemy's JSON processing per
    # row cost more than the read (9,000 rows).
    job_list, human_jobs = cast(Classification.jobs, Text), cast(PostLabel.jobs, Text)
    # One product at a time, newest first along the (product, created_at) index: no sort of the period.
    for pid in ids:
        query = (select(posts.id, posts.product_id, posts.title, posts.text, job_list, labels["top_job"],
                        labels["sentiment"], labels["unmet_need"], labels["need_type"], labels["step"], human_jobs,
                        first_issue)
                 .select_from(posts).join(Classification, Classification.post_id == posts.id)
                 .outerjoin(PostLabel, PostLabel.post_id == posts.id)
                 .where(posts.status != POST_SKIPPED, posts.product_id == pid, posts.created_at >= since,
                        posts.created_at < until)
                 .order_by(posts.created_at.desc()).limit(per_product))
        # Plain tuples: attribute access on 9,000 rows is a measurable part of this read.
        rows += [tuple(r) for r in connection.execute(query) if r[5] or _has_jobs(r[4]) or _has_jobs(r[10])]
    issue_ids = sorted({r[11] for r in rows if r[11] is not None})
    issue_label: dict[int, str] = {}
    for start in range(0, len(issue_ids), CHUNK):
        issue_label.update((i, label) for i, label in session.execute(
            select(Issue.id, Issue.label).where(Issue.id.in_(issue_ids[start:start + CHUNK]))))
    return [_segment_post(row, slug_of.get(row[1], str(row[1])),
                          issue_label.get(row[11], "") if row[11] is not None else None) for row in rows]


# A dashboard reads the same newest posts again for each new period; their rows parse once (JSON job lists,
# main jobs), keyed by everything read of the post, so a changed label or text is a new key.
@lru_cache(maxsize=1 << 14)
def _segment_post(row: tuple[Any, ...], product: str, issue_label: str | None) -> SegmentPost:
    """One row of :func:`segment_posts`' query as a :class:`SegmentPost`."""
    post_id, _, title, text, stored, top_job, sentiment, unmet, need_type, step, human, issue_id = row
    labelled = json.loads(human) if human else None  # SQL NULL and JSON null alike: no person's jobs
    if labelled is not None:  # a person's jobs are all main jobs
        jobs = [j.get("job") if isinstance(j, dict) else j for j in labelled]
    else:  # the model's: only those near its best score (segments.main_jobs)
        jobs = list(main_jobs(_scored(json.loads(stored) if stored else None)))
    if top_job and top_job not in jobs:
        jobs.insert(0, top_job)
    return SegmentPost(
        post_id=post_id, product=product,
        text=" ".join(x for x in (title, text) if x) if title and title not in text else text,
        jobs=tuple(dict.fromkeys(j for j in jobs if j)), sentiment=sentiment, unmet=bool(unmet),
        need_type=need_type, step=step, issue_id=issue_id, issue_label=issue_label)
