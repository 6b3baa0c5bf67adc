"""The job map and the segments of a period on their own (the dashboard's ``/jobs`` pages), without the rest
of the comparison report: the same queries and figures as :func:`voxpop.report.build.build_report`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Classification, Post, Product
from voxpop.report import figures, jobmap, jobmap_queries, queries, rollup_queries, segments
from voxpop.report.figures import DEFAULT_MIN_N, JobLike
from voxpop.report.queries import ReportError, clip, safe_url, utc


def jobs_view(session: Session, products: Sequence[str] | None, since: datetime, until: datetime,
              jobs_by_product: Mapping[str, Sequence[JobLike]] | None = None,
              steps_by_product: Mapping[str, Sequence[jobmap.StepLike]] | None = None, *,
              min_n: int = DEFAULT_MIN_N, min_segment: int = segments.DEFAULT_MIN_SIZE,
              threads: int = queries.DEFAULT_QUERY_THREADS) -> dict[str, Any]:
    """The job map of ``products`` over ``[since, until)`` and the segments of each job (with post ids)."""
    since, until = utc(since), utc(until)
    if until <= since:
        raise ReportError(f"empty period: until {until.isoformat()} is not after since {since.isoformat()}")
    rows = queries.load_products(session, products)
    ids = [r.id for r in rows]
    slug_of = {r.id: r.slug for r in rows}
    own = next((r.slug for r in rows if r.own), None)
    baseline = own or (rows[0].slug if rows else None)
    # The segments' posts (the longest read) on a connection of their own while the job map's sums run.
    segment_posts = queries.in_background(session, threads, lambda reader: jobmap_queries.segment_posts(
        reader, ids, since, until, slug_of))
    step_counts = rollup_queries.step_counts(session, ids, since, until)
    step_issues = rollup_queries.step_issues(session, ids, since, until)
    posts = segment_posts()
    jobs = _jobs(jobs_by_product, slug_of, posts)
    found = segments.find_segments(posts, {j["id"]: j["statement"] for j in jobs}, own=own,
                                   min_size=min_segment, min_n=min_n) if min_segment > 0 else {}
    return {
        "meta": {"since": since.isoformat(), "until": until.isoformat(), "min_n": min_n, "min_segment": min_segment,
                 "products": [r.slug for r in rows], "own": own, "baseline": baseline},
        "names": {r.slug: r.name for r in rows},
        "jobs": jobs,
        "job_map": jobmap.job_map(rows, step_counts, step_issues, steps_by_product, baseline, min_n),
        "segments": found,
    }


def _jobs(jobs_by_product: Mapping[str, Sequence[JobLike]] | None, slug_of: Mapping[int, str],
          posts: Sequence[segments.SegmentPost]) -> list[dict[str, Any]]:
    """The configured jobs of these products, else the job ids found on the posts."""
    configured = [{"id": j["id"], "statement": j["statement"]}
                  for j in figures.job_list(jobs_by_product, {}, slug_of)]
    if configured:
        return configured
    found = sorted({job for p in posts for job in p.jobs})
    return [{"id": j, "statement": j} for j in found]


def segment_detail(session: Session, view: Mapping[str, Any], job: str, key: str,
                   limit: int = 50) -> dict[str, Any] | None:
    """One segment of ``view`` (from :func:`jobs_view`) with its job and the first ``limit`` of its posts."""
    segment = next((s for s in view["segments"].get(job, []) if s["key"] == key), None)
    if segment is None:
        return None
    ids = segment["post_ids"][-limit:]
    rows = session.execute(
        select(Post.id, Post.url, Post.text, Post.created_at, Post.rating, Product.slug, Product.name,
               Classification.sentiment, Classification.need_type, Classification.step)
        .join(Product, Product.id == Post.product_id).outerjoin(Classification, Classification.post_id == Post.id)
        .where(Post.id.in_(ids)).order_by(Post.created_at.desc(), Post.id.desc())).all()
    posts = [{"id": r.id, "url": safe_url(r.url), "text": clip(r.text or "", 600), "product": r.slug,
              "product_name": r.name, "sentiment": r.sentiment, "need_type": r.need_type, "step": r.step,
              "rating": r.rating, "created_at": r.created_at.isoformat() if r.created_at else None} for r in rows]
    statement = next((j["statement"] for j in view["jobs"] if j["id"] == job), job)
    siblings = [{k: s[k] for k in ("key", "name", "size")} for s in view["segments"].get(job, [])]
    return {"job": {"id": job, "statement": statement}, "segment": segment, "posts": posts, "siblings": siblings,
            "names": view["names"], "meta": view["meta"]}
