"""Build the comparison report: the single JSON-able dict every renderer reads (HTML, Markdown, CSV, JSON).

Order of the report, top first: a headline block per product (with the change against the previous
period of the same length), new and rising issues, "where we lose, and why", then the detailed
comparison. Differences carry a 95 % interval (Wilson per share, Newcombe for differences of shares,
Welch for differences of mean ratings); groups smaller than ``min_n`` are flagged and never ranked.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from store.models import Post
from voxpop.report import figures, jobmap, jobmap_queries, queries, rollup_queries, segments
from voxpop.report.as_of import posts_as_of
from voxpop.report.comparison import comparisons, gaps
from voxpop.report.coverage import crawl_coverage
from voxpop.report.figures import DEFAULT_MIN_N, DEFAULT_TOP_NEEDS, JobLike
from voxpop.report.headline import RECENT_DAYS, headline, minus, totals_of
from voxpop.report.movers import NEW_OR_RISING, new_and_rising
from voxpop.report.part_days import PartDays
from voxpop.report.queries import DEFAULT_QUERY_THREADS, SECONDS_PER_WEEK, ReportError, utc
from voxpop.report.summary import summarise
from voxpop.report.themes import shared_themes
from voxpop.report.where import where_we_lose

METHODS = {
    "share": "Wilson score interval, 95 %",
    "difference": "Newcombe hybrid score interval (method 10), 95 %; mean rating: normal, Welch SE",
    "opportunity": "importance + max(importance - satisfaction, 0), shares 0-1, times 5 (0-10)",
    "importance": "share of the product's classified posts whose top job is this job",
    "satisfaction": "share of the job's posts with positive sentiment",
    "weeks": "Monday-aligned UTC weeks cut to the period; the first and last may be partial, so trend charts "
             "show posts per day within each week",
    "trend": "count in the second half of the period minus the first half",
    "rise": "an issue's posts in the last 7 days of the period minus the 7 days before (as the issue list)",
    "evidence": "an issue's representative post; for needs from classifications, the newest post",
    "headline": "this period against the previous period of the same length; a change is real when its 95 % "
                "interval excludes zero and both periods have at least min n (posts: binomial test of two counts "
                "over equal time; shares: Newcombe; mean rating: Welch)",
    "job_map": "each post sits on one step of the customer's process (its classification's step); per product "
               "and step: posts, negative share (Wilson, 95 %), opportunity as for jobs with the step in place of "
               "the job; our negative share against each competitor's (Newcombe, 95 %, both n >= min n)",
    "desired_outcome": "an issue's label and step read as direction + metric + object by rules over its problem "
                       "words (crash/lose/fail: the chance that ...; slow: the time it takes to ...; a request: "
                       "the ability to ...)",
    "segments": "within a job, posts grouped by the context they name (device, setting, role, frequency, scale: "
                "rule-based phrases, synonyms folded); each post goes to the largest context it names; phrases "
                "that restate the job are dropped; segments under the minimum size are not shown; read from the "
                f"newest {jobmap_queries.PER_PRODUCT:,} classified posts of each product in the period",
    "where_we_lose": "per competitor and job, our satisfaction against theirs (Newcombe, 95 %), both n >= min n; "
                     "our issues are joined to the job through the top job of their posts; for smaller samples "
                     "the n needed is z² (p1(1-p1) + p2(1-p2)) / gap²",
}


# Sections a caller may leave out (``build_report(leave_out=...)``): none of them feeds another or the summary.
OPTIONAL_SECTIONS = ("job_map", "segments", "gaps", "crawl", "new_and_rising")


def week_bounds(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Monday-aligned weeks cut to ``[since, until)``: start, end and length in days of each."""
    anchor = datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(days=since.weekday())
    n_weeks = math.ceil((until - anchor).total_seconds() / SECONDS_PER_WEEK)
    out = []
    for i in range(n_weeks):
        start, end = max(anchor + timedelta(weeks=i), since), min(anchor + timedelta(weeks=i + 1), until)
        out.append({"start": start.isoformat(), "end": end.isoformat(),
                    "days": round((end - start).total_seconds() / 86400, 4)})
    return out


def build_report(session: Session, products: Sequence[str] | None, since: datetime, until: datetime,
                 jobs_by_product: Mapping[str, Sequence[JobLike]] | None = None, *, min_n: int = DEFAULT_MIN_N,
                 top_needs: int = DEFAULT_TOP_NEEDS, generated_at: datetime | None = None,
                 threads: int = DEFAULT_QUERY_THREADS,
                 steps_by_product: Mapping[str, Sequence[jobmap.StepLike]] | None = None,
                 min_segment: int = segments.DEFAULT_MIN_SIZE, from_rollups: bool = True,
                 as_of: datetime | None = None, leave_out: Collection[str] = ()) -> dict[str, Any]:
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
        steps_by_product: each product's own steps of the job map (None or none: the default steps).
        min_segment: needs-based segments with fewer posts are not shown (0 leaves segments out).
        from_rollups: read the sums from the rollups (default); False scans the posts, which gives the
            same report (the property the tests check) much more slowly.
        as_of: read each post as it stood at this moment (issue 31): the text, title, rating and app version of
            its version in force then (``store.revisions``), posts first seen after it left out; the model's
            reading and people's labels are the current ones. The rollups hold current values only, so an
            as-of report always scans the posts (``from_rollups`` is ignored).
        leave_out: sections not wanted (any of :data:`OPTIONAL_SECTIONS`): their keys are absent and their
            queries not run; the other sections are the same as in the whole report (``/compare``'s page
            shows neither the job map, the segments, the gaps nor the crawl coverage).
    """
    unknown = set(leave_out) - set(OPTIONAL_SECTIONS)
    if unknown:
        raise ValueError(f"leave_out: unknown sections {sorted(unknown)}")
    since, until = utc(since), utc(until)
    if until <= since:
        raise ReportError(f"empty period: until {until.isoformat()} is not after since {since.isoformat()}")
    posts: Any = Post
    if as_of is not None:
        as_of, from_rollups = utc(as_of), False
        posts = posts_as_of(as_of)
    rows = queries.load_products(session, products)
    ids = [r.id for r in rows]
    dialect = session.get_bind().dialect.name
    anchor = datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(days=since.weekday())
    bounds = week_bounds(since, until)
    weeks = [b["start"][:10] for b in bounds]
    mid = since + (until - since) / 2

    slug_of = {r.id: r.slug for r in rows}
    wants_segments = min_segment > 0 and "segments" not in leave_out
    # The segments' posts (a read of the posts) and the issues per step run on connections of their own while
    # the sums below run.
    segment_rows = (queries.in_background(session, threads, lambda reader: jobmap_queries.segment_posts(
        reader, ids, since, until, slug_of, posts=posts)) if wants_segments else None)
    issues_per_step = (queries.in_background(session, threads, lambda reader: (
        rollup_queries.step_issues(reader, ids, since, until) if from_rollups
        else jobmap_queries.step_issues(reader, ids, since, until, posts=posts)))
        if "job_map" not in leave_out else None)
    own = next((r.slug for r in rows if r.own), None)
    baseline = own or (rows[0].slug if rows else None)
    base_id = next((r.id for r in rows if r.slug == baseline), None)
    issue_rows = (rollup_queries.issue_counts(session, ids, since, until, mid) if from_rollups
                  else queries.issue_counts(session, ids, since, until, mid, posts=posts))
    issues = queries.load_issues(session, issue_rows, (until - timedelta(microseconds=1)).date(), posts=posts)
    # Jobs, sentiment and versions only for the issues shown with them: new or rising ones (when that section
    # is wanted), and ours (where we lose). Beside the sums as well.
    rising = "new_and_rising" not in leave_out
    wanted = [i["issue_id"] for pid, items in issues.items() for i in items
              if pid == base_id or (rising and i["state"] in NEW_OR_RISING)]
    issue_details = queries.in_background(session, threads, lambda reader: (
        rollup_queries.issue_details(reader, wanted, since, until) if from_rollups
        else queries.issue_details(reader, wanted, since, until, posts=posts)))
    recent = until - timedelta(days=RECENT_DAYS) if until - since >= timedelta(days=2 * RECENT_DAYS) else None
    totals_recent = None
    # A period cut mid-day reads its part days from the posts: each range once for every sum of it below.
    part = PartDays(dialect, ids)
    # The slow class cube first, so the threads finish together.
    if from_rollups:
        # The previous period's and the last week's totals (reads of their part days' posts when the period
        # is cut mid-day) beside the cubes.
        totals_before = queries.in_background(session, threads, lambda reader: rollup_queries.period_totals(
            reader, ids, since - (until - since), since, part))
        if recent is not None:
            week_start = recent
            totals_recent = queries.in_background(session, threads, lambda reader: rollup_queries.period_totals(
                reader, ids, week_start, until, part))
        cubes = rollup_queries.cubes(session, dialect, ids, since, until, anchor, mid, threads, part)
        before = totals_before()
    else:
        cube_queries = (queries.class_queries(dialect, ids, since, until, anchor, mid, posts=posts)
                        + queries.volume_queries(dialect, ids, since, until, anchor, mid, posts=posts))
        cubes = queries.run_cubes(session, dialect, cube_queries, threads)
        before = queries.period_totals(session, ids, since - (until - since), since, posts=posts)
    volume_rows, class_rows = cubes["volume"], cubes["class"]
    first_posts = queries.first_post_dates(session, ids, posts=posts)
    last_week = None
    if recent is not None:
        last_week = (totals_recent() if totals_recent is not None
                     else queries.period_totals(session, ids, recent, until, posts=posts))

    names = {r.slug: r.name for r in rows}
    jobs = figures.job_list(jobs_by_product, class_rows, slug_of)

    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        per[r.slug] = figures.product_figures(r, volume_rows.get(r.id, []), class_rows.get(r.id, []), bounds, jobs,
                                              min_n)
    figures.share_of_voice(per, volume_rows, slug_of, min_n)
    for r in rows:  # weeks before a product's collection began are a gap, not zero posts
        began = first_posts.get(r.id)
        began = utc(began) if began is not None else None
        per[r.slug]["collection_began"] = began.isoformat() if began is not None and began > since else None
        if began is not None and began > since:
            for week, bound in zip(per[r.slug]["weekly"], bounds, strict=False):
                if datetime.fromisoformat(bound["end"]) <= began:
                    week.update(per_day=None, before_collection=True)

    needs = queries.class_needs(session, class_rows, posts=posts)
    for r in rows:
        per[r.slug]["top_unmet_needs"] = figures.top_needs(issues.get(r.id, []), needs.get(r.id, []),
                                                           jobs, top_needs, min_n)
    details = issue_details()
    where = where_we_lose([per[r.slug] for r in rows], jobs, baseline, issues.get(base_id or -1, []), details,
                          needs.get(base_id or -1, []), min_n)
    previous = {slug_of[pid]: t for pid, t in before.items()}
    job_map: dict[str, Any] | None = None
    if "job_map" not in leave_out:
        step_counts = (rollup_queries.step_counts(session, ids, since, until, part) if from_rollups
                       else jobmap_queries.step_counts(session, ids, since, until, posts=posts))
        job_map = jobmap.job_map(rows, step_counts,
                                 issues_per_step() if issues_per_step is not None else {},
                                 steps_by_product, baseline, min_n)
    found_segments: dict[str, Any] = {}
    if segment_rows is not None and jobs:
        found = segment_rows()
        found_segments = segments.segment_summary(segments.find_segments(
            found, {j["id"]: j["statement"] for j in jobs}, own=own, min_size=min_segment, min_n=min_n), 50)
    data: dict[str, Any] = {
        "meta": {
            "generated_at": utc(generated_at or datetime.now(UTC)).isoformat(),
            "since": since.isoformat(), "until": until.isoformat(), "dialect": dialect,
            "as_of": as_of.isoformat() if as_of is not None else None,
            "previous": {"since": (since - (until - since)).isoformat(), "until": since.isoformat()},
            "products": [r.slug for r in rows], "own": own, "baseline": baseline,
            "min_n": min_n, "confidence": 0.95, "weeks": weeks, "week_bounds": bounds,
            "methods": dict(METHODS),
        },
        "headline": headline([per[r.slug] for r in rows], previous, min_n, previous_since=since - (until - since),
                             first_posts={slug_of[pid]: d for pid, d in first_posts.items()},
                             recent={r.slug: (last_week[r.id], minus(totals_of(per[r.slug]), last_week[r.id]))
                                     for r in rows} if last_week is not None else None),
        "new_and_rising": new_and_rising(issues, details, slug_of, names, own),
        "where_we_lose": where,
        "jobs": jobs,
        "job_map": job_map,
        "segments": found_segments,
        "products": [per[r.slug] for r in rows],
        "comparisons": comparisons(per, baseline, jobs, min_n) if baseline else [],
        "gaps": gaps(issues, slug_of, own),
        "themes": shared_themes(session, [r.slug for r in rows]),
    }
    if "crawl" not in leave_out:
        data["crawl"] = crawl_coverage(session, [r.slug for r in rows])
    for section in leave_out:
        data.pop(section, None)
    data["summary"] = summarise(data)
    return data
