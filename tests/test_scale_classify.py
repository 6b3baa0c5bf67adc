"""Classify workers on one PostgreSQL backlog: each post classified exactly once, a killed worker loses nothing.

Real `voxpop worker --role classify --until-idle` processes with the real model (short posts keep it
quick on small machines). Runs when VOXPOP_REQUIRE_SERVICES=1 or VOXPOP_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import POST_CLASSIFIED, POST_CLASSIFYING, Classification, Post
from tests.scale_support import finish, finish_all, insert_posts, voxpop, write_config

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _counts(store: Store) -> dict[str, int]:
    with store.sessions() as session:
        by_status = dict(session.execute(select(Post.status, func.count()).group_by(Post.status)).all())
        by_status["classifications"] = session.scalar(select(func.count()).select_from(Classification)) or 0
        by_status["distinct_posts"] = session.scalar(select(func.count(func.distinct(Classification.post_id)))) or 0
    return by_status


def test_two_workers_classify_each_post_exactly_once(tmp_path: Path, postgres_url: str) -> None:
    n = 5000
    store = Store(postgres_url)
    insert_posts(store, "notely", n)
    config = write_config(tmp_path / "voxpop.toml", postgres_url, [{"slug": "notely"}])
    started = time.monotonic()
    workers = [voxpop(config, "worker", "--role", "classify", "--until-idle", "--json", "--batch-size", "100")
               for _ in range(2)]
    results = finish_all(workers, timeout=600)
    elapsed = time.monotonic() - started
    for code, _out, err in results:
        assert code == 0, err[-3000:]
    summaries = [json.loads(out) for _code, out, _err in results]
    processed = [s["classified"] + s["skipped_language"] for s in summaries]
    # Work done across the workers adds up to the backlog: no post was classified twice.
    assert sum(processed) == n, processed
    assert all(p > 0 for p in processed), f"both workers should have claimed batches: {processed}"
    counts = _counts(store)
    assert counts.get(POST_CLASSIFYING, 0) == 0 and counts.get("pending", 0) == 0
    assert counts["classifications"] == counts["distinct_posts"] == counts.get(POST_CLASSIFIED, 0)
    assert counts.get(POST_CLASSIFIED, 0) + counts.get("skipped", 0) == n
    print(f"two classify workers: {n} posts in {elapsed:.1f}s ({n / elapsed:.0f} posts/s incl. start), "
          f"split {processed}")
    store.dispose()


def test_a_worker_killed_mid_batch_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    n = 800
    store = Store(postgres_url)
    insert_posts(store, "notely", n)
    config = write_config(tmp_path / "voxpop.toml", postgres_url, [{"slug": "notely"}])
    args = ("worker", "--role", "classify", "--until-idle", "--json", "--batch-size", "64", "--lease-s", "5")
    victim = voxpop(config, *args)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        counts = _counts(store)
        if counts["classifications"] >= 64 and counts.get(POST_CLASSIFYING, 0) > 0:
            break
        assert victim.poll() is None, victim.communicate()[1][-3000:]
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    before = _counts(store)
    assert before.get(POST_CLASSIFYING, 0) > 0, "the kill should leave a claimed batch behind"

    code, out, err = finish(voxpop(config, *args), timeout=600)
    assert code == 0, err[-3000:]
    after = _counts(store)
    summary = json.loads(out)
    assert after.get(POST_CLASSIFYING, 0) == 0 and after.get("pending", 0) == 0
    assert after["classifications"] == after["distinct_posts"] == after.get(POST_CLASSIFIED, 0)
    assert after.get(POST_CLASSIFIED, 0) + after.get("skipped", 0) == n
    # The survivor did exactly what the victim had not saved, including the abandoned claim.
    saved_before = before.get(POST_CLASSIFIED, 0) + before.get("skipped", 0)
    assert summary["classified"] + summary["skipped_language"] == n - saved_before
    store.dispose()
