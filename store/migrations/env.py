"""Alembic environment: runs on the connection handed in by ``store.db.migrate`` or from the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from store.models import Base
from store.search import include_name

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
        _rollups_after_upgrade(connection)


def _rollups_after_upgrade(connection) -> None:  # type: ignore[no-untyped-def]
    """Fill the rollups a migration left due, once the schema matches the models (at head) they are read with."""
    if connection.in_transaction():  # store.db.migrate's (or a transactional-DDL) transaction: its owner commits
        _rebuild_due_rollups(connection)
        return
    with connection.begin():  # SQLite runs each migration in its own transaction: this one is ours to commit
        _rebuild_due_rollups(connection)


def _rebuild_due_rollups(connection) -> None:  # type: ignore[no-untyped-def]
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    from store import rollups

    if "rollup_state" not in inspect(connection).get_table_names():
        return
    heads = set(ScriptDirectory.from_config(config).get_heads())
    if set(MigrationContext.configure(connection).get_current_heads()) != heads:
        return
    session = Session(bind=connection)
    rollups.rebuild_if_due(session)
    session.flush()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
