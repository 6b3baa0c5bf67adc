"""Batch writes of posts in a helper process, so storing runs beside the crawl instead of inside it.

The crawl's reactor thread parses and normalises; ``upsert_posts`` is Python-heavy (SQLAlchemy
builds every row's parameters), and in a thread it would take the GIL from the reactor. One helper
process, started on the first full batch, writes the batches in order; a crawl too small to fill a
batch never starts it. What crosses the process boundary is the validated PostRecord (pickled).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from voxpop.core.post import PostRecord, json_safe

_STORE: Any = None
_PRODUCT_IDS: dict[str, int | None] = {}


def _init(database_url: str) -> None:
    global _STORE
    from store.db import Store

    _STORE = Store(database_url, auto_migrate=False)


def resolve_products(session: Any, slugs: set[str], cache: dict[str, int | None]) -> None:
    """Fill ``cache`` with the ids of product slugs not looked up yet (None for unknown slugs)."""
    from sqlalchemy import select

    from store.models import Product

    unknown = [s for s in slugs if s not in cache]
    if not unknown:
        return
    found = dict(session.execute(select(Product.slug, Product.id).where(Product.slug.in_(unknown))).tuples().all())
    for slug in unknown:
        cache[slug] = found.get(slug)


def write_batch(store: Any, product_id: int, source_id: int | None, rows: list[PostRecord],
                cache: dict[str, int | None]) -> tuple[tuple[int, int, int] | None, str | None, int]:
    """Upsert validated posts in one transaction (their ``products`` slugs become product links).

    Returns ``((stored, updated, unchanged) or None, error or None, rows left out for a non-JSON raw)``.
    A failing batch is retried once without rows whose ``raw`` is not JSON.
    """
    result, error = _write_once(store, product_id, source_id, rows, cache)
    if error is None:
        return result, None, 0
    good = [row for row in rows if row.raw is None or json_safe(row.raw)]
    if len(good) == len(rows):
        return None, error, 0
    result, error = _write_once(store, product_id, source_id, good, cache) if good else (None, None)
    return result, error, len(rows) - len(good)


def _write_once(store: Any, product_id: int, source_id: int | None, rows: list[PostRecord],
                cache: dict[str, int | None]) -> tuple[tuple[int, int, int] | None, str | None]:
    from store.repo import upsert_posts

    try:
        with store.transaction() as session:
            resolve_products(session, {slug for row in rows for slug in row.products}, cache)
            records = [row if not row.products else replace(row, extra_product_ids=tuple(sorted(
                {pid for slug in row.products if (pid := cache.get(slug)) and pid != product_id}))) for row in rows]
            done = upsert_posts(session, product_id, records, source_id=source_id)
            return (done.stored, done.updated, done.unchanged), None
    except Exception as exc:  # noqa: BLE001 - reported back and recorded in the crawl run
        return None, f"store error: {exc.__class__.__name__}: {str(exc)[:200]}"


def _write_in_child(product_id: int, source_id: int | None,
                    rows: list[PostRecord]) -> tuple[tuple[int, int, int] | None, str | None, int]:
    return write_batch(_STORE, product_id, source_id, rows, _PRODUCT_IDS)


class ProcessWriter:
    """One helper process that writes batches in the order they are submitted."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.executor: ProcessPoolExecutor | None = None

    def submit(self, product_id: int, source_id: int | None, rows: list[PostRecord]) -> Future[Any]:
        """Queue one batch; the future gives :func:`write_batch`'s answer."""
        if self.executor is None:
            self.executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_init, initargs=(self.database_url,))
        return self.executor.submit(_write_in_child, product_id, source_id, rows)

    def close(self) -> None:
        """Wait for queued batches and stop the helper process."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None
