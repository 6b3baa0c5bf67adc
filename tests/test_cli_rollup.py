"""``voxpop rollup --verify / --rebuild`` and the rollup state in ``voxpop status``, through the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import update

from store.db import Store
from store.models import RollupDay
from store.repo import PostRecord, ensure_product, upsert_posts
from tests.cli_support import invoke


def test_rollup_verify_finds_drift_and_rebuild_repairs_it(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id=str(i), text=f"review {i}", rating=3.0,
                                               created_at=datetime(2026, 5, 4 + i, tzinfo=UTC)) for i in range(3)])
    ok = invoke("rollup", "--verify", "--json", db_url=sqlite_url)
    assert ok.exit_code == 0 and json.loads(ok.output)["differences"] == 0
    with store.transaction() as session:  # a write past the store layer
        session.execute(update(RollupDay).values(posts=RollupDay.posts + 1))
    store.dispose()
    bad = invoke("rollup", "--verify", db_url=sqlite_url)
    assert bad.exit_code == 1 and "5 row(s) are wrong" in bad.output
    fixed = invoke("rollup", "--rebuild", "--product", "acme", "--json", db_url=sqlite_url)
    assert fixed.exit_code == 0 and json.loads(fixed.output)["differences"] == 5
    assert invoke("rollup", "--verify", db_url=sqlite_url).exit_code == 0
    unknown = invoke("rollup", "--rebuild", "--product", "nope", db_url=sqlite_url)
    assert unknown.exit_code == 1 and "unknown product(s): nope (known: acme)" in unknown.output
    assert invoke("rollup", db_url=sqlite_url).exit_code == 2  # --rebuild or --verify is required
