"""Engine and session factory, made once and passed in; migrations applied on first use."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, create_engine, event, inspect
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.orm import Session, sessionmaker

from voxpop.core.errors import StoreError

T = TypeVar("T")
log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0  # how long SQLite waits for another writer; $VOXPOP_SQLITE_BUSY_TIMEOUT_S overrides
# A database that went away, refused a connection, or stayed locked past the busy timeout.
DB_FAULTS: tuple[type[Exception], ...] = (OperationalError, SAInterfaceError)
MIGRATION_LOCK_KEY = 0x766F78  # "vox"


def is_db_fault(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable, gone or locked (worth a retry), not a bug."""
    if isinstance(exc, DB_FAULTS):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def describe_db_fault(exc: BaseException) -> str:
    """One line for a database fault: what happened, in the driver's words, without SQL or parameters."""
    orig = getattr(exc, "orig", None) or exc
    detail = " ".join(str(orig).split())[:200] or orig.__class__.__name__
    if "locked" in detail.lower() or "busy" in detail.lower():
        return (f"database is locked (another process held it longer than the {sqlite_busy_timeout_s():g} s busy "
                f"timeout): {detail}; nothing was written, run the command again")
    return f"database unavailable: {detail}; nothing half-written was kept, run the command again when it is back"


def with_retry(action: Callable[[], T], *, what: str, attempts: int = 5, base_s: float = 0.5,
               max_s: float = 8.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``action`` (a whole transaction, safe to repeat) again after a database fault, with backoff.

    Only for idempotent work (upserts on natural keys, closing a run, marking rows): a repeat must
    not change the result. The last fault is raised when every attempt failed.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if not is_db_fault(exc) or attempt == attempts:
                raise
            delay = min(max_s, base_s * 2 ** (attempt - 1))
            log.warning("%s: %s; retry %d of %d in %.1f s", what, describe_db_fault(exc), attempt,
                        attempts - 1, delay)
            sleep(delay)
    raise AssertionError("unreachable")


def sqlite_busy_timeout_s() -> float:
    """Seconds a SQLite connection waits for a lock before "database is locked"."""
    return float(os.environ.get("VOXPOP_SQLITE_BUSY_TIMEOUT_S") or SQLITE_BUSY_TIMEOUT_S)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_s() * 1000)}")
    cursor.close()


def _postgresql_settings(dbapi_connection: Any, _record: Any) -> None:
    # JIT compilation costs ~60 ms a query once the planner's estimate passes jit_above_cost; our queries are
    # many short aggregates over indexes (a report runs dozens), where that is more than the query itself.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET jit = off")
    cursor.close()
    dbapi_connection.commit()  # psycopg opens a transaction for the SET; the pool expects none


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL mode, a busy timeout and foreign keys; PostgreSQL no JIT."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": sqlite_busy_timeout_s()})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "connect", _postgresql_settings)
    return engine


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


_REVISION = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"""['"]([^'"]+)['"]""")


def script_heads(directory: Path = MIGRATIONS_DIR / "versions") -> set[str] | None:
    """The head revisions of our migration scripts read from their ``revision`` / ``down_revision`` lines,
    without importing Alembic (a third of a second of every command's start); None when a script does not
    state them plainly, so the caller asks Alembic."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in directory.glob("*.py"):
        if path.name.startswith("_"):
            continue
        found = dict((m.group(1), m.group(2)) for m in _REVISION.finditer(path.read_text(encoding="utf-8")))
        ids = _QUOTED.findall(found.get("revision", ""))
        if len(ids) != 1 or "down_revision" not in found:
            return None
        revisions.add(ids[0])
        downs.update(_QUOTED.findall(found["down_revision"]))
    return revisions - downs or None


def is_migrated(engine: Engine) -> bool:
    """Whether the schema is at the newest revision (cheap check used on first use)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = {str(v) for v in connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()}
    head = script_heads()
    if head is None:
        from alembic.script import ScriptDirectory

        head = set(ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads())
    return current == head


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
            detail = describe_db_fault(exc) if is_db_fault(exc) else f"{exc.__class__.__name__}: {exc}"
            raise StoreError(f"cannot open database {_safe_url(url)}: {' '.join(detail.split())[:400]}") from exc
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
