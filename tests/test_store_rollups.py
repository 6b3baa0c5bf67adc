"""Rollups stay equal to the raw aggregation of the posts through every kind of write (property test).

Random sequences of inserts, edits (a changed rating or date), classification and reclassification,
human labels, step scores, issue membership, merges, splits and deletes run through the store's own
write functions on SQLite and PostgreSQL; after each step the stored rollups must equal a fresh
aggregation of the posts (``store.rollups.raw_cells``), per-issue days included.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from store import rollups
from store.claims import ClassificationRow, claim_pending, requeue_older_models, save_classifications
from store.db import Store
from store.models import Classification, Issue, IssuePost, Post
from store.repo import PostRecord, delete_posts, ensure_product, upsert_posts
from voxpop import curation

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
SOURCES = ("appstore", "googleplay", "reddit")
_serial = itertools.count()

insert_op = st.tuples(st.just("insert"), st.integers(1, 4), st.integers(0, 2), st.booleans(),
                      st.sampled_from([None, 1.0, 2.5, 4.0, 5.0]), st.integers(-1, 5),
                      st.sampled_from([None, "1.0", "2.0"]), st.sampled_from([None, "en", "de"]))
edit_op = st.tuples(st.just("edit"), st.integers(0, 50), st.sampled_from([None, 1.0, 3.0, 5.0]), st.integers(0, 5))
classify_op = st.tuples(st.just("classify"), st.integers(1, 5), st.sampled_from(["m1", "m2"]),
                        st.integers(0, 1000))
label_op = st.tuples(st.just("label"), st.integers(0, 50), st.sampled_from([None, "negative", "positive"]),
                     st.sampled_from([None, "problem", "praise"]), st.sampled_from([None, ["sync"], []]))
step_op = st.tuples(st.just("step"), st.integers(0, 50), st.sampled_from([None, "use", "pay"]))
issue_op = st.tuples(st.just("issue"), st.lists(st.integers(0, 50), min_size=1, max_size=4))
merge_op = st.tuples(st.just("merge"), st.integers(0, 10), st.integers(0, 10))
split_op = st.tuples(st.just("split"), st.integers(0, 10))
delete_op = st.tuples(st.just("delete"), st.integers(0, 50))
operations = st.lists(st.one_of(insert_op, insert_op, edit_op, classify_op, classify_op, label_op, step_op,
                                issue_op, merge_op, split_op, delete_op), min_size=4, max_size=14)


def _posts(session: Any, product_ids: list[int]) -> list[Any]:
    return list(session.execute(select(Post.id, Post.source, Post.external_id, Post.product_id)
                                .where(Post.product_id.in_(product_ids)).order_by(Post.id)))


def _pick(items: list[Any], index: int) -> Any:
    return items[index % len(items)] if items else None


def _run(session: Any, op: tuple[Any, ...], products: list[int]) -> None:
    kind = op[0]
    posts = _posts(session, products)
    if kind == "insert":
        _, n, prod, linked, rating, day, version, language = op
        pid = products[prod]
        records = []
        for _ in range(n):
            serial = next(_serial)
            source = SOURCES[serial % len(SOURCES)]
            records.append(PostRecord(
                source=source, external_id=f"x{serial}", text=f"post {serial}", rating=rating,
                created_at=None if day < 0 else DAY0 + timedelta(days=day, hours=serial % 24), version=version,
                language=language, found_by=f"{source}:us" if serial % 2 else None,
                extra_product_ids=(products[(prod + 1) % len(products)],) if linked else ()))
        upsert_posts(session, pid, records)
    elif kind == "edit" and posts:
        _, index, rating, day = op
        post = _pick(posts, index)
        upsert_posts(session, post.product_id, [PostRecord(
            source=post.source, external_id=post.external_id, text=f"edited {next(_serial)}", rating=rating,
            created_at=DAY0 + timedelta(days=day, hours=3))])
    elif kind == "classify":
        _, n, version, seed = op
        requeue_older_models(session, version)
        claimed = claim_pending(session, "w", n)
        rows = []
        for k, post in enumerate(claimed):
            r = (seed + k * 7) % 11
            need = ("problem", "feature_request", "praise", "other")[r % 4]
            rows.append(ClassificationRow(
                post_id=post.id, model_version=version, sentiment=("negative", "neutral", "positive")[r % 3],
                sentiment_score=0.5, need_type=need, need_score=0.5, unmet_need=need in ("problem", "feature_request"),
                jobs=[{"job": ("sync", "share")[r % 2], "score": 0.5}] if r % 5 else [], evidence=None,
                embedding=None, skipped=r == 10))
        save_classifications(session, "w", rows)
    elif kind == "label" and posts:
        _, index, sentiment, need, jobs = op
        if sentiment is None and need is None and jobs is None:
            return
        curation.label_post(session, _pick(posts, index).id, sentiment=sentiment, need=need,
                            jobs=jobs or None, no_jobs=jobs == [], by="tester")
    elif kind == "step" and posts:
        _, index, step = op
        post_id = _pick(posts, index).id
        with rollups.tracking(session, [post_id]):
            session.execute(update(Classification).where(Classification.post_id == post_id).values(step=step))
    elif kind == "issue" and posts:
        members = sorted({_pick(posts, i).id for i in op[1]})
        product = session.scalar(select(Post.product_id).where(Post.id == members[0]))
        issue = Issue(product_id=product, label="an issue", keywords=[], state="ongoing", size=len(members),
                      daily_counts={}, stats={})
        session.add(issue)
        session.flush()
        session.add_all(IssuePost(issue_id=issue.id, post_id=p, similarity=0.5) for p in members)
        session.flush()
        rollups.refresh_issues(session, [issue.id])  # what detection does after writing members
    elif kind in ("merge", "split"):
        issues = list(session.scalars(select(Issue.id).where(Issue.state != "merged").order_by(Issue.id)))
        if kind == "merge" and len(issues) >= 2:
            a, b = _pick(issues, op[1]), _pick(issues, op[2])
            same = session.scalar(select(Issue.product_id).where(Issue.id == a)) == session.scalar(
                select(Issue.product_id).where(Issue.id == b))
            if a != b and same:
                curation.merge_issue(session, a, into=b, by="tester")
        elif kind == "split" and issues:
            issue_id = _pick(issues, op[1])
            members = sorted(session.scalars(select(IssuePost.post_id).where(IssuePost.issue_id == issue_id)))
            if len(members) >= 2:
                curation.split_issue(session, issue_id, post_ids=members[:1], by="tester")
    elif kind == "delete" and posts:
        delete_posts(session, [_pick(posts, op[1]).id])


def _assert_exact(session: Any) -> None:
    stored, fresh = rollups.stored_cells(session), rollups.raw_cells(session)
    assert rollups.differences(stored, fresh) == 0, (stored, fresh)
    result = rollups.verify(session)
    assert result["differences"] == 0 and result["issue_differences"] == 0, result


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_rollups_equal_raw_aggregation_after_every_step(db: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if db == "sqlite" else "postgres_url")
    store = Store(url)
    with store.transaction() as session:
        products = [ensure_product(session, f"p{i}").id for i in range(3)]

    @settings(max_examples=30 if db == "sqlite" else 25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(operations)
    def run(ops: list[tuple[Any, ...]]) -> None:
        for op in ops:
            with store.transaction() as session:
                _run(session, op, products)
            with store.sessions() as session:
                _assert_exact(session)

    try:
        run()
    finally:
        store.dispose()


def test_failed_change_leaves_rollups_with_the_posts(sqlite_store: Store) -> None:
    """A change that fails rolls back the posts and their rollups together."""
    with sqlite_store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id="a", text="t", rating=5.0,
                                               created_at=DAY0)])
    with pytest.raises(RuntimeError), sqlite_store.transaction() as session:
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id="b", text="u", rating=1.0,
                                               created_at=DAY0)])
        raise RuntimeError("crash mid-transaction")
    with sqlite_store.sessions() as session:
        cells = rollups.stored_cells(session)
        assert sum(c.values[0] for k, c in cells.items() if k[1] == rollups.DAY) == 1
        assert rollups.differences(cells, rollups.raw_cells(session)) == 0


def test_rebuild_repairs_and_reports_drift(sqlite_store: Store) -> None:
    with sqlite_store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id=str(i), text=f"t{i}", rating=4.0,
                                               created_at=DAY0 + timedelta(days=i)) for i in range(5)])
        session.execute(update(rollups.RollupDay).values(posts=rollups.RollupDay.posts + 1))
    with sqlite_store.transaction() as session:
        # Unlabelled posts: 5 days and the week (Monday to Friday), and the week's compact volume row.
        assert rollups.verify(session)["differences"] == 7
        assert rollups.rebuild(session, [pid])["differences"] == 7
    with sqlite_store.transaction() as session:
        found = rollups.verify(session)
        assert found["differences"] == 0 and found["rows"] == 7
        assert rollups.state(session)["verified"]["differences"] == 0


def test_migration_fills_the_rollups_of_a_store_that_has_posts(sqlite_url: str) -> None:
    from alembic import command
    from sqlalchemy import insert

    from store.db import alembic_config, make_engine
    from store.models import Product

    config = alembic_config(sqlite_url)
    command.upgrade(config, "0008")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(insert(Product).values(id=1, slug="acme", name="Acme", own=True, created_at=DAY0))
        conn.execute(insert(Post).values(id=1, source="appstore", external_id="a", product_id=1, text="t", rating=2.0,
                                         created_at=DAY0, fetched_at=DAY0, content_hash="x", status="pending"))
    engine.dispose()
    command.upgrade(config, "head")
    store = Store(sqlite_url)
    with store.sessions() as session:
        cells = rollups.stored_cells(session)
        # its day and its week, and the week's compact volume row
        assert [c.values[:3] for c in cells.values()] == [[1, 1, 2.0]] * 3
        assert rollups.verify(session)["differences"] == 0
    store.dispose()


def test_migration_0021_adds_the_compact_rows_to_a_store_with_rollups(sqlite_url: str) -> None:
    from alembic import command

    from store.db import alembic_config

    store = Store(sqlite_url)
    with store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="reddit", external_id=str(i), text=f"t{i}",
                                               created_at=DAY0 + timedelta(days=3 * i)) for i in range(4)])
    store.dispose()
    config = alembic_config(sqlite_url)
    command.downgrade(config, "0020")  # the store as the code before compact rows kept it
    old = Store(sqlite_url, auto_migrate=False)
    with old.sessions() as session:
        assert {k[1] for k in rollups.stored_cells(session)} == {rollups.DAY, rollups.WEEK}
    old.dispose()
    command.upgrade(config, "head")
    store = Store(sqlite_url)
    with store.sessions() as session:
        spans = {k[1] for k in rollups.stored_cells(session)}
        assert spans == {rollups.DAY, rollups.WEEK, rollups.VOLUME_WEEK}  # none labelled yet
        assert rollups.verify(session)["differences"] == 0
    store.dispose()


def test_migration_0022_puts_the_step_in_the_label_rows_of_a_store_with_rollups(sqlite_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from store.db import alembic_config

    store = Store(sqlite_url)
    with store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id="1", text="t", created_at=DAY0)])
        claimed = claim_pending(session, "w", 5)
        save_classifications(session, "w", [ClassificationRow(
            post_id=p.id, model_version="m", sentiment="negative", sentiment_score=0.9, need_type="problem",
            need_score=0.9, unmet_need=True, jobs=[], evidence=None, embedding=None, step="set-up")
            for p in claimed])
    store.dispose()
    config = alembic_config(sqlite_url)
    command.downgrade(config, "0021")
    old = Store(sqlite_url, auto_migrate=False)
    with old.transaction() as session:  # the label rows as the code before kept them: no step
        assert session.execute(text("SELECT 1 FROM rollup_state WHERE name = 'rebuild_due'")).first() is not None
        session.execute(text("DELETE FROM rollup_state WHERE name = 'rebuild_due'"))
        session.execute(text("UPDATE rollup_days SET step = '' WHERE span IN (201, 207, 230)"))
    old.dispose()
    command.upgrade(config, "head")
    store = Store(sqlite_url)
    with store.sessions() as session:
        labels = [k for k in rollups.stored_cells(session) if k[1] in (rollups.LABELS_DAY, rollups.LABELS_MONTH)]
        assert len(labels) == 2 and {k[-1] for k in labels} == {"set-up"}
        assert rollups.verify(session)["differences"] == 0
    store.dispose()


def test_version_days_gives_each_versions_first_day_where_it_decides_the_order(sqlite_store: Store) -> None:
    # Monday 2026-03-02 (DAY0): 1.0 from week 1; 1.1 on Wednesday and 1.2 on Tuesday of week 3 (the same week:
    # their days decide); 2.0 on the Friday of the week the cut falls in, and one post after the cut.
    plan = [("1.0", 0), ("1.0", 9), ("1.1", 16), ("1.2", 15), ("1.2", 17), ("2.0", 25), ("2.0", 26)]
    with sqlite_store.transaction() as session:
        pid = ensure_product(session, "acme").id
        upsert_posts(session, pid, [PostRecord(source="appstore", external_id=str(i), text=f"t{i}", version=v,
                                               created_at=DAY0 + timedelta(days=d, hours=5))
                                    for i, (v, d) in enumerate(plan)])
        claimed = claim_pending(session, "w", 20)
        save_classifications(session, "w", [ClassificationRow(
            post_id=p.id, model_version="m", sentiment="negative", sentiment_score=0.9, need_type="problem",
            need_score=0.9, unmet_need=True, jobs=[], evidence=None, embedding=None) for p in claimed])
    with sqlite_store.sessions() as session:
        found = rollups.version_days(session, pid, (DAY0 + timedelta(days=26)).date())
    assert found["1.2"] == ((DAY0 + timedelta(days=15)).date(), 2)
    assert found["1.1"] == ((DAY0 + timedelta(days=16)).date(), 1)
    assert found["2.0"] == ((DAY0 + timedelta(days=25)).date(), 1)  # the day after the cut is not counted
    assert found["1.0"][1] == 2 and found["1.0"][0] <= DAY0.date()
    order = sorted(found, key=lambda v: (found[v][0], v))
    assert order == ["1.0", "1.2", "1.1", "2.0"]
