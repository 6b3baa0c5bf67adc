"""Writes this process still owes the database: done as soon as it is back, by the process that owes them.

A long-lived process (``voxpop run``, ``voxpop worker``) that loses the database while a crawl runs cannot
record the crawl's end; the run would stay ``running`` until its age gave it away (crawl timeout + 120 s).
Instead the runner *owes* the close: :func:`owe` keeps the write (an idempotent transaction) in memory and a
daemon thread retries it with backoff until the database answers, then the run shows as failed with its
reason. A one-shot command that exits first leaves the run to ``close_abandoned_runs`` (its process is gone).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

RETRY_FIRST_S = float(os.environ.get("VOXPOP_OWED_RETRY_S") or 2.0)
RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class OwedWrite:
    """One idempotent transaction owed to a database: ``work(session)`` is safe to repeat."""

    key: str
    database_url: str
    work: Callable[[Session], None]


_LOCK = threading.Lock()
_OWED: dict[str, OwedWrite] = {}
_WAKE = threading.Event()
_THREAD: list[threading.Thread] = []


def owe(key: str, database_url: str, work: Callable[[Session], None]) -> None:
    """Remember ``work`` for ``database_url`` (one per ``key``) and retry it in the background until done."""
    with _LOCK:
        _OWED[key] = OwedWrite(key, database_url, work)
        if not _THREAD or not _THREAD[0].is_alive():
            thread = threading.Thread(target=_retry_loop, name="voxpop-owed-writes", daemon=True)
            _THREAD[:] = [thread]
            thread.start()
    log.warning("%s: owed to the database, done as soon as it is back", key)


def owed(database_url: str | None = None) -> list[str]:
    """Keys of the writes still owed (to ``database_url``, or to any database)."""
    with _LOCK:
        return [w.key for w in _OWED.values() if database_url is None or w.database_url == database_url]


def pay(database_url: str | None = None) -> int:
    """Try every owed write now (to ``database_url`` or all); return how many were done. Never raises."""
    from store.db import Store, describe_db_fault, is_db_fault

    with _LOCK:
        todo = [w for w in _OWED.values() if database_url is None or w.database_url == database_url]
    done = 0
    by_url: dict[str, list[OwedWrite]] = {}
    for write in todo:
        by_url.setdefault(write.database_url, []).append(write)
    for url, writes in by_url.items():
        try:
            store = Store(url, auto_migrate=False)
        except Exception as exc:  # noqa: BLE001 - still gone: try again later
            log.debug("owed writes: database still unavailable: %s", exc)
            continue
        try:
            for write in writes:
                try:
                    with store.transaction() as session:
                        write.work(session)
                except Exception as exc:  # noqa: BLE001 - a fault waits for the next try; a bug is logged once
                    if is_db_fault(exc):
                        log.debug("%s: %s", write.key, describe_db_fault(exc))
                        break
                    log.exception("%s: giving up: the owed write failed", write.key)
                else:
                    done += 1
                    log.info("%s: done now that the database is back", write.key)
                with _LOCK:
                    if _OWED.get(write.key) is write:
                        del _OWED[write.key]
        finally:
            store.dispose()
    return done


def _retry_loop() -> None:
    wait = RETRY_FIRST_S
    while True:
        _WAKE.wait(wait)
        _WAKE.clear()
        pay()
        with _LOCK:
            if not _OWED:
                _THREAD.clear()
                return
        wait = min(RETRY_MAX_S, wait * 2)


def wake() -> None:
    """Retry the owed writes now (for instance when a job found the database answering again)."""
    _WAKE.set()


__all__ = ["OwedWrite", "owe", "owed", "pay", "wake"]
