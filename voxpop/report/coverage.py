"""Crawl coverage per source: the posts we hold, the total the source reports, the caps that stopped the
crawl, and the last run with its health. One reading for ``/status``, the dashboard and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import CrawlRun, Post, Product, Source


def reported_total(value: Any) -> int | None:
    """The number a source reported as its total: a number as is, totals per URL (or per storefront) summed."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, dict):
        parts = [reported_total(v) for v in value.values()]
        numbers = [p for p in parts if p is not None]
        return sum(numbers) if numbers else None
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def crawl_health(session: Session, slugs: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The last crawl of each source, per product slug (all products, or only ``slugs``).

    ``reported_total`` is always a number (totals reported per URL are summed; ``reported_totals`` keeps the
    parts when there are several).
    """
    latest = select(func.max(CrawlRun.id)).group_by(CrawlRun.source_id, CrawlRun.spider, CrawlRun.product_slug)
    query = (select(CrawlRun, Source.name).outerjoin(Source, Source.id == CrawlRun.source_id)
             .where(CrawlRun.id.in_(latest)).order_by(CrawlRun.product_slug, Source.name))
    if slugs is not None:
        query = query.where(CrawlRun.product_slug.in_(list(slugs)))
    out: dict[str, list[dict[str, Any]]] = {}
    for run, source_name in session.execute(query).all():
        stats = run.stats or {}
        raw = stats.get("reported_total")
        out.setdefault(run.product_slug, []).append({
            "source": source_name or run.spider, "spider": run.spider, "status": run.status, "reason": run.reason,
            "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at), "stored": run.stored,
            "updated": run.updated, "dropped": run.dropped, "reported_total": reported_total(raw),
            "reported_totals": dict(raw) if isinstance(raw, dict) and len(raw) > 1 else None,
            "caps_hit": list(stats.get("caps_hit") or []),
            # App Store: reviews seen per storefront that held any, and how many were empty
            "storefronts": dict(stats.get("storefronts") or {}), "storefronts_empty": stats.get("storefronts_empty")})
    return out


def source_coverage(session: Session, slugs: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per source (of ``slugs``, or all): its last crawl and the posts we hold against the site's own total."""
    held: dict[int, int] = {int(sid): int(n) for sid, n in session.execute(
        select(Post.source_id, func.count()).where(Post.source_id.is_not(None)).group_by(Post.source_id))}
    ids = {(slug, name): sid for sid, name, slug in session.execute(
        select(Source.id, Source.name, Product.slug).join(Product, Product.id == Source.product_id)).all()}
    return [{**run, "product": slug, "held": held.get(ids.get((slug, run["source"]), -1), 0)}
            for slug, runs in crawl_health(session, slugs).items() for run in runs]


def _when(value: str | None) -> str:
    """``2026-03-29 06:30 UTC`` (stored times are UTC; a naive one is read as UTC)."""
    if not value:
        return "never"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def crawl_coverage(session: Session, slugs: Sequence[str]) -> list[dict[str, Any]]:
    """The report's crawl coverage: per source of ``slugs``, posts held, the source's own total where it reports
    one, caps that stopped the crawl, and the last run with its health (the data ``/status`` shows)."""
    order = {slug: i for i, slug in enumerate(slugs)}
    rows = source_coverage(session, slugs)
    out = []
    for r in sorted(rows, key=lambda r: (order.get(r["product"], len(order)), r["source"])):
        total = r["reported_total"]
        out.append({"product": r["product"], "source": r["source"], "spider": r["spider"], "held": r["held"],
                    "reported_total": total, "held_share": round(r["held"] / total, 3) if total else None,
                    "caps_hit": r["caps_hit"], "last_run": r["started_at"], "last_run_text": _when(r["started_at"]),
                    "status": r["status"], "reason": r["reason"],
                    "health": r["status"] + (f": {r['reason']}" if r["reason"] else "")})
    return out
