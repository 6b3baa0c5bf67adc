"""Themes x products: each theme with, per product, its issues and their posts (live counts) and trend.

Read by the report's competitor section, the dashboard's ``/compare`` and ``voxpop themes``. The post
counts come from :func:`store.issue_figures.post_counts`, the count every other surface shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.issue_figures import post_counts
from store.models import Issue, Product, Theme

HIDDEN = ("candidate", "merged")
RISING = ("new", "rising", "reopened")


def theme_table(session: Session, product_slugs: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every theme with its products (in ``product_slugs`` order when given), biggest theme first.

    A product's entry: ``posts`` (sum over its issues in the theme), ``trend`` (``rising`` when one of
    them is new, rising or reopened; else its state) and its ``issues`` (id, label, posts, state).
    """
    query = (select(Issue.id, Issue.label, Issue.state, Issue.theme_id, Issue.theme_by, Product.slug, Product.name,
                    Product.own, Theme.label.label("theme_label"), Theme.curated_by)
             .join(Product, Product.id == Issue.product_id).join(Theme, Theme.id == Issue.theme_id)
             .where(Issue.state.not_in(HIDDEN)))
    if product_slugs:
        query = query.where(Product.slug.in_(list(product_slugs)))
    rows = session.execute(query).all()
    counts = post_counts(session, [r.id for r in rows])
    order = {slug: n for n, slug in enumerate(product_slugs or [])}
    themes: dict[int, dict[str, Any]] = {}
    for r in rows:
        theme = themes.setdefault(r.theme_id, {"id": r.theme_id, "label": r.theme_label,
                                               "curated": r.curated_by is not None, "products": {}})
        entry = theme["products"].setdefault(r.slug, {"slug": r.slug, "name": r.name, "own": bool(r.own),
                                                      "posts": 0, "issues": []})
        entry["posts"] += counts.get(r.id, 0)
        entry["issues"].append({"id": r.id, "label": r.label, "posts": counts.get(r.id, 0), "state": r.state,
                                "by_hand": r.theme_by is not None})
    out = []
    for theme in themes.values():
        products = []
        for entry in theme["products"].values():
            entry["issues"].sort(key=lambda i: (-i["posts"], i["id"]))
            states = [i["state"] for i in entry["issues"]]
            entry["trend"] = "rising" if any(s in RISING for s in states) else (
                "ongoing" if "ongoing" in states else states[0])
            products.append(entry)
        products.sort(key=lambda p: (order.get(p["slug"], len(order)), not p["own"], -p["posts"], p["slug"]))
        theme["products"] = products
        theme["posts"] = sum(p["posts"] for p in products)
        out.append(theme)
    out.sort(key=lambda t: (-len(t["products"]), -t["posts"], t["id"]))
    return out


def theme_line(theme: dict[str, Any]) -> str:
    """``set reminders: Notely 12 posts, rising; Jotter 11; Scribbly 7`` (the trend shown when rising)."""
    parts = []
    for n, p in enumerate(theme["products"]):
        trend = ", rising" if p["trend"] == "rising" else ""
        unit = " posts" if n == 0 else ""
        parts.append(f"{p['name']} {p['posts']}{unit}{trend}")
    return f"{theme['label']}: " + "; ".join(parts)


def shared_themes(session: Session, product_slugs: Sequence[str]) -> list[dict[str, Any]]:
    """The themes two or more of ``product_slugs`` share (the report's and ``/compare``'s themes x products)."""
    if len(product_slugs) < 2:
        return []
    return [t for t in theme_table(session, product_slugs) if len(t["products"]) >= 2]


def issue_theme(session: Session, issue_id: int) -> dict[str, Any] | None:
    """The theme of one issue with the other products' issues in it (None when it has none)."""
    row = session.execute(select(Issue.theme_id, Issue.theme_by).where(Issue.id == issue_id)).one_or_none()
    if row is None or row.theme_id is None:
        return None
    theme = next((t for t in theme_table(session) if t["id"] == row.theme_id), None)
    if theme is None:
        label = session.scalar(select(Theme.label).where(Theme.id == row.theme_id))
        theme = {"id": row.theme_id, "label": label, "curated": False, "products": [], "posts": 0}
    return {**theme, "by_hand": row.theme_by is not None, "set_by": row.theme_by}


def theme_choices(session: Session) -> list[dict[str, Any]]:
    """Every theme (id, label), for the issue page's theme form."""
    return [{"id": t.id, "label": t.label} for t in session.scalars(select(Theme).order_by(Theme.label, Theme.id))]
