"""Leader locks (store/locks.py): one holder across processes; a dead holder frees the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from store.db import Store
from store.locks import leader_lock, lock_key
from tests.conftest import PROJECT_ROOT

HOLDER = """
import sys, time
from store.db import Store
from store.locks import leader_lock
store = Store(sys.argv[1])
with leader_lock(store, "alert") as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def test_key_is_stable_and_signed_64_bit() -> None:
    assert lock_key("alert") == lock_key("alert") != lock_key("detect")
    assert -(2**63) <= lock_key("crawl:notely:appstore") < 2**63


def test_one_holder_at_a_time(store: Store) -> None:
    other = Store(store.url)
    try:
        with leader_lock(store, "detect") as first:
            assert first
            with leader_lock(other, "detect") as second:
                assert not second
            with leader_lock(other, "alert") as unrelated:
                assert unrelated
        with leader_lock(other, "detect") as again:
            assert again
    finally:
        other.dispose()


def test_threads_of_one_process_exclude_each_other(store: Store) -> None:
    results: list[bool] = []
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with leader_lock(store, "alert") as held:
            results.append(held)
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert inside.wait(10)
    with leader_lock(store, "alert") as held:
        results.append(held)
    leave.set()
    thread.join()
    assert results == [True, False]


def test_a_killed_holder_releases_the_lock(store: Store) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, store.url], cwd=PROJECT_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held", proc.stderr.read() if proc.stderr else ""
        with leader_lock(store, "alert") as held:
            assert not held
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with leader_lock(store, "alert") as held:
        assert held


def test_in_memory_sqlite_falls_back_to_a_process_lock() -> None:
    store = Store("sqlite://")
    try:
        with leader_lock(store, "alert") as first, leader_lock(store, "alert") as second:
            assert first and not second
    finally:
        store.dispose()


@pytest.mark.parametrize("name", ["crawl:notely/app store", "report:weekly digest"])
def test_odd_names_make_valid_lock_files(sqlite_store: Store, name: str) -> None:
    with leader_lock(sqlite_store, name) as held:
        assert held
