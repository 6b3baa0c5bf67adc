"""Helpers for the community spider tests: copy a fixture site, patch its routes, read its hits."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "sites"


def fixture_site(tmp_path: Path, site: str, overrides: Mapping[str, Any] | None = None) -> Path:
    """Copy ``tests/fixtures/sites/<site>`` under ``tmp_path`` and replace or add routes.

    An override value is a response spec (``{"status": 401, "json": {...}}``), a list of them, or
    None to remove the route.
    """
    root = tmp_path / site
    shutil.copytree(FIXTURES / site, root)
    routes = json.loads((root / "routes.json").read_text(encoding="utf-8"))
    for target, spec in (overrides or {}).items():
        if spec is None:
            routes.pop(target, None)
        else:
            routes[target] = spec
    (root / "routes.json").write_text(json.dumps(routes, indent=1), encoding="utf-8")
    return root


def load(site: str, name: str) -> Any:
    """A fixture body, decoded."""
    return json.loads((FIXTURES / site / name).read_text(encoding="utf-8"))


def body(site: str, name: str) -> bytes:
    """A fixture body as the server sends it."""
    return (FIXTURES / site / name).read_bytes()


def hit_times(records: list[dict[str, str]], fragment: str) -> list[float]:
    """Times of the requests whose target contains ``fragment``."""
    return [float(r["at"]) for r in records if fragment in r["target"]]


def ensure_products(database_url: str, *slugs: str) -> None:
    """Create products in a test database (a post is linked only to products that exist)."""
    from store.db import Store
    from store.repo import ensure_product

    store = Store(database_url)
    try:
        with store.transaction() as session:
            for slug in slugs:
                ensure_product(session, slug)
    finally:
        store.dispose()


def linked(database_url: str, slug: str) -> set[str]:
    """External ids of the posts linked to product ``slug`` (through post_products)."""
    from sqlalchemy import select

    from store.db import Store
    from store.models import Post, PostProduct, Product

    store = Store(database_url)
    try:
        with store.transaction() as session:
            return set(session.scalars(
                select(Post.external_id).join(PostProduct, PostProduct.post_id == Post.id)
                .join(Product, Product.id == PostProduct.product_id).where(Product.slug == slug)))
    finally:
        store.dispose()
