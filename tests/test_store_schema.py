"""The store: migrations match the models, upserts never duplicate, claims hand each post out once."""

from __future__ import annotations

from sqlalchemy import func, inspect, select, text

from store.claims import ClassificationRow, claim_pending, requeue_older_models, save_classifications
from store.db import Store
from store.models import Base, Classification, Post, PostProduct
from store.repo import PostRecord, ensure_product, ensure_source, upsert_posts, utcnow
from store.search import include_name


def test_migrations_match_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []


def test_heads_read_without_alembic_are_alembics_and_a_store_behind_them_is_upgraded(tmp_path) -> None:
    from alembic.script import ScriptDirectory

    from store.db import alembic_config, is_migrated, script_heads

    assert script_heads() == set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
    store = Store(f"sqlite:///{tmp_path / 'behind.db'}")
    assert is_migrated(store.engine)
    with store.engine.begin() as connection:  # as a store made by an older release would read
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0015'")
    assert not is_migrated(store.engine)
    store.dispose()
    # A script whose revision is not stated plainly: the caller asks Alembic instead of guessing.
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "0001_x.py").write_text("revision = make_id()\ndown_revision = None\n")
    assert script_heads(tmp_path / "versions") is None


def test_sqlite_runs_in_wal_mode(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def _records(n: int, prefix: str = "r") -> list[PostRecord]:
    return [PostRecord(source="appstore", external_id=f"{prefix}{i}", text=f"review number {i}", rating=4.0,
                       created_at=utcnow()) for i in range(n)]


def test_upsert_is_idempotent_and_updates_edits(store: Store) -> None:
    with store.transaction() as session:
        product = ensure_product(session, "acme", "Acme", own=True)
        first = upsert_posts(session, product.id, _records(10))
    with store.transaction() as session:
        again = upsert_posts(session, product.id, _records(10))
        edited = _records(10)
        edited[3] = PostRecord(source="appstore", external_id="r3", text="edited: now it crashes", rating=1.0)
        change = upsert_posts(session, product.id, edited)
    assert (first.stored, first.updated, first.unchanged) == (10, 0, 0)
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 10)
    assert (change.stored, change.updated, change.unchanged) == (0, 1, 9)
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 10
        assert session.scalar(select(Post.text).where(Post.external_id == "r3")) == "edited: now it crashes"
        assert session.scalar(select(func.count()).select_from(PostProduct)) == 10


def test_community_post_links_several_products(store: Store) -> None:
    with store.transaction() as session:
        ours = ensure_product(session, "ours")
        rival = ensure_product(session, "rival")
        record = PostRecord(source="reddit", external_id="t3_x", text="ours vs rival?", extra_product_ids=(rival.id,))
        upsert_posts(session, ours.id, [record])
    with store.sessions() as session:
        linked = set(session.scalars(select(PostProduct.product_id)))
    assert linked == {ours.id, rival.id}


def _row(post_id: int, version: str = "m1") -> ClassificationRow:
    return ClassificationRow(post_id=post_id, model_version=version, sentiment="neutral", sentiment_score=0.0,
                             need_type="other", need_score=0.9, unmet_need=False, jobs=[], evidence=None,
                             embedding=None)


def test_claims_hand_out_each_post_once_and_expired_claims_return(store: Store) -> None:
    with store.transaction() as session:
        product = ensure_product(session, "acme")
        upsert_posts(session, product.id, _records(5))
    with store.transaction() as session:
        a = claim_pending(session, "worker-a", 3)
    with store.transaction() as session:
        b = claim_pending(session, "worker-b", 10)
    assert len(a) == 3 and len(b) == 2
    assert not {p.id for p in a} & {p.id for p in b}
    # worker-a dies; after its lease expires worker-c takes its posts over
    with store.transaction() as session:
        c = claim_pending(session, "worker-c", 10, lease_s=0)
    assert {p.id for p in c} == {p.id for p in a} | {p.id for p in b}
    with store.transaction() as session:
        assert save_classifications(session, "worker-a", [_row(p.id) for p in a]) == 0  # lost its claim
        assert save_classifications(session, "worker-c", [_row(p.id) for p in c]) == 5
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Classification)) == 5
    with store.transaction() as session:
        assert requeue_older_models(session, "m2") == 5
        assert len(claim_pending(session, "worker-d", 10)) == 5


def test_schema_has_natural_key_on_posts(store: Store) -> None:
    uniques = inspect(store.engine).get_unique_constraints("posts")
    assert any(set(u["column_names"]) == {"source", "external_id"} for u in uniques)


def test_two_processes_creating_one_product_and_source_agree(store: Store) -> None:
    """Two crawl workers starting at once both create the product: neither may fail (the CI race)."""
    import threading

    with store.transaction() as first:
        held = ensure_product(first, "racer")
        held_source = ensure_source(first, held.id, "appstore", "appstore")
        results: dict[str, int] = {}

        def second_worker() -> None:
            with store.transaction() as second:
                product = ensure_product(second, "racer")
                results["product"] = product.id
                results["source"] = ensure_source(second, product.id, "appstore", "appstore").id

        thread = threading.Thread(target=second_worker)
        thread.start()
        thread.join(timeout=0.5)  # the second insert now waits on the first, uncommitted one
        held_ids = (held.id, held_source.id)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert (results["product"], results["source"]) == held_ids


def test_a_table_outside_the_migrations_is_created_once_when_processes_race(store: Store) -> None:
    """APScheduler's job table: two schedulers starting at once both try to create it (a CI failure)."""
    import threading

    from sqlalchemy import Column, Integer, MetaData, Table

    from store.db import create_table_once

    tables = [Table("race_probe", MetaData(), Column("id", Integer, primary_key=True)) for _ in range(6)]
    barrier = threading.Barrier(len(tables))
    errors: list[BaseException] = []

    def start(table: Table) -> None:
        barrier.wait()
        try:
            create_table_once(store.engine, table)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(table,)) for table in tables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert inspect(store.engine).has_table("race_probe")


def test_workers_starting_together_create_one_postgres_database() -> None:
    import threading
    import uuid

    import pytest
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from store.db import ensure_database
    from tests.conftest import postgres_base_url

    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL tests skipped: set VOXPOP_REQUIRE_SERVICES=1 or VOXPOP_TEST_DATABASE_URL")
    name = f"voxpop_race_{uuid.uuid4().hex[:8]}"
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            ensure_database(url)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.scalar(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()
    assert errors == []
    assert found == 1
