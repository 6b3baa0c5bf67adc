"""Engine and session factory, made once and passed in; migrations applied on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from voxpop.core.errors import StoreError  # noqa: F401 - re-exported: callers catch it from here

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
MIGRATION_LOCK_KEY = 0x766F78  # "vox"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL mode, a busy timeout and foreign keys."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def ensure_database(url: str) -> None:
    """Create a PostgreSQL database named in ``url`` if it does not exist yet (SQLite creates its own file)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    exists_query = text("SELECT 1 FROM pg_database WHERE datname = :name")
    try:
        with admin.connect() as connection:
            if connection.scalar(exists_query, {"name": parsed.database}):
                return
            try:
                connection.execute(text(f'CREATE DATABASE "{parsed.database.replace(chr(34), "")}"'))
            except SQLAlchemyError:
                # Another worker starting at the same moment may have created it first.
                if not connection.scalar(exists_query, {"name": parsed.database}):
                    raise
    finally:
        admin.dispose()


def alembic_config(url: str) -> Any:
    """An Alembic ``Config`` pointing at our migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (``alembic upgrade head``)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may start at once: one migrates, the others wait and then find head.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def create_table_once(engine: Engine, table: Table) -> None:
    """Create a table outside our migrations (APScheduler's job store) even when several processes start at once.

    PostgreSQL: under the migration lock, so the second process waits and then finds the table.
    SQLite: a losing writer fails on the stale check; it is fine when the table exists afterwards.
    """
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            table.create(connection, checkfirst=True)
    except SQLAlchemyError:
        with engine.connect() as connection:
            if not inspect(connection).has_table(table.name, schema=table.schema):
                raise


def is_migrated(engine: Engine) -> bool:
    """Whether the schema has been created (cheap check used on first use)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = MigrationContext.configure(connection).get_current_heads()
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads()
    return set(current) == set(head)


class Store:
    """The engine and session factory of one database, made once per process."""

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            if auto_migrate and self.engine.dialect.name == "postgresql":
                ensure_database(self.engine.url.render_as_string(hide_password=False))
            if auto_migrate and not is_migrated(self.engine):
                migrate(self.engine)
        except Exception as exc:  # noqa: BLE001 - turned into one clear line for the CLI
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open database {_safe_url(url)}: {exc.__class__.__name__}: {exc}") from exc
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def _safe_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<unparseable url>"
