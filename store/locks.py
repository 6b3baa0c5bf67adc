"""Cluster-wide leader locks: only one process at a time runs detect, alert delivery or a given crawl.

On PostgreSQL a lock is a session-level advisory lock (``pg_try_advisory_lock``) taken on a connection
kept for the whole block, so it is released when the block ends or, if the process dies, when the
server drops the connection. On SQLite (one machine) it is an exclusive ``flock`` on a file beside
the database; an in-memory database falls back to a lock inside this process.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from store.db import Store

log = logging.getLogger("voxpop.locks")

_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (namespaced, so other apps rarely collide)."""
    digest = hashlib.blake2b(f"voxpop:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def leader_lock(store: Store, name: str) -> Iterator[bool]:
    """Try to become the only holder of lock ``name`` for the duration of the block.

    Never waits: yields True when this process holds the lock, False when another one does
    (the caller should then skip its work). The lock is always released on exit.
    """
    if store.dialect == "postgresql":
        with _pg_lock(store, name) as held:
            yield held
    else:
        path = _sqlite_path(store)
        if path is None:
            with _local_lock(name) as held:
                yield held
        else:
            with _file_lock(path.with_name(f"{path.name}.{_safe(name)}.lock")) as held:
                yield held


@contextmanager
def _pg_lock(store: Store, name: str) -> Iterator[bool]:
    key = lock_key(name)
    connection = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        if not held:
            log.info("lock %r is held by another process; skipping", name)
        try:
            yield held
        finally:
            if held:
                try:
                    connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                except Exception:  # noqa: BLE001 - a broken connection has released the lock already
                    connection.invalidate()
    finally:
        connection.close()


def _sqlite_path(store: Store) -> Path | None:
    database = store.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] + "-" + f"{lock_key(name) & 0xFFFFFF:06x}"


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one process per database is the rule there
        with _local_lock(str(path)) as held:
            yield held
        return
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("lock file %s is held by another process; skipping", path)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _local_lock(name: str) -> Iterator[bool]:
    with _LOCAL_GUARD:
        lock = _LOCAL_LOCKS.setdefault(name, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
