"""The report's figures per product, from the grouped rows of :mod:`voxpop.report.queries`.

Shares always carry their ``n`` and a Wilson 95 % interval; groups smaller than ``min_n`` are
flagged as small and never ranked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from alerts import stats
from store.models import POST_SKIPPED

DEFAULT_MIN_N = 30
DEFAULT_TOP_NEEDS = 5
SENTIMENT_ORDER = ("positive", "neutral", "negative")


class JobLike(Protocol):
    """Anything with a job ``id`` and a ``statement`` (config.JobSpec)."""

    @property
    def id(self) -> str: ...

    @property
    def statement(self) -> str: ...


def share(x: int, n: int, min_n: int = DEFAULT_MIN_N) -> dict[str, Any]:
    """A share with its count, base, Wilson interval and small-sample flag."""
    ci = stats.wilson(x, n)
    return {"x": x, "n": n, "p": x / n if n else None, "ci": list(ci) if ci else None, "small": n < min_n}


def job_list(jobs_by_product: Mapping[str, Sequence[JobLike]] | None, class_rows: Mapping[int, list[Any]],
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
        order = {slug: i for i, slug in enumerate(slug_of.values())}  # products in display order
        for found in jobs.values():
            found["products"].sort(key=lambda slug: order[slug])
        return [jobs[k] for k in sorted(jobs)]
    for slug in slug_of.values():
        for job in jobs_by_product.get(slug, ()):
            entry = jobs.setdefault(job.id, {"id": job.id, "statement": job.statement, "products": []})
            entry["products"].append(slug)
    return list(jobs.values())


def product_figures(product: Any, vrows: list[Any], crows: list[Any], weeks: list[dict[str, Any]],
                     jobs: list[dict[str, Any]], min_n: int) -> dict[str, Any]:
    total = classified = skipped = 0
    sentiment: dict[str, int] = defaultdict(int)
    stars: dict[int, int] = defaultdict(int)
    r_n, r_sum, r_sq = 0, 0.0, 0.0
    by_source: dict[str, int] = defaultdict(int)
    weekly: list[dict[str, Any]] = [{"week": w["start"][:10], "days": w["days"], "n": 0, "classified": 0,
                                     "r_n": 0, "r_sum": 0.0, **{s: 0 for s in SENTIMENT_ORDER}} for w in weeks]
    last = len(weeks) - 1
    for week, _, row in vrows:
        n = int(row.n)
        total += n
        by_source[row.source] += n
        weekly[min(max(int(week), 0), last)]["n"] += n
        if row.status == POST_SKIPPED:
            skipped += n
        if row.star is not None:
            wk = weekly[min(max(int(week), 0), last)]
            wk["r_n"] += n
            wk["r_sum"] += float(row.r_sum or 0.0)
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
        # Rows from the rollups come in two kinds: per week and sentiment only (``weekly_only``), and
        # per period half with every label (``week`` None); rows from the posts carry both at once.
        if week is not None:
            w = weekly[min(max(int(week), 0), last)]
            w["classified"] += n
            w[row.sentiment] = w.get(row.sentiment, 0) + n
        if getattr(row, "weekly_only", False):
            continue
        classified += n
        sentiment[row.sentiment] += n
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
        w["per_day"] = round(w["n"] / w["days"], 4) if w["days"] else None
        w["rating_mean"] = round(w["r_sum"] / w["r_n"], 4) if w["r_n"] else None
    labels = list(SENTIMENT_ORDER) + sorted(set(sentiment) - set(SENTIMENT_ORDER))

    ms = stats.mean_sd(r_n, r_sum, r_sq)
    rating: dict[str, Any] = {"n": r_n, "mean": None, "sd": None, "ci": None, "small": r_n < min_n,
                              "distribution": {str(k): share(stars.get(k, 0), r_n, min_n) for k in range(1, 6)}}
    if ms is not None:
        rating.update(mean=ms[0], sd=ms[1], ci=list(stats.mean_ci(ms[0], ms[1], r_n)))

    # Posts whose top job is no longer configured (removed or renamed, not rescored yet, or a person's
    # label naming it) are counted, never silently dropped.
    listed = {job["id"] for job in jobs}
    removed_jobs = {j: n for j, n in sorted(job_n.items(), key=lambda kv: (-kv[1], str(kv[0])))
                    if j is not None and j not in listed}
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
        "unlisted_jobs": removed_jobs,
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


def share_of_voice(per: dict[str, dict[str, Any]], volume_rows: Mapping[int, list[Any]],
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


def top_needs(issues: list[dict[str, Any]], class_needs: list[dict[str, Any]], jobs: list[dict[str, Any]],
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

