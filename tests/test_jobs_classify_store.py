"""Store-mode classification: streams the backlog, resumes after a real kill, never classifies a post twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.db import Store
from store.models import Classification, Post
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

PHRASES = [
    "The app crashes whenever I open a shared notebook",
    "Please add a dark theme for night reading",
    "Love the quick capture widget, it saves me every day",
    "How can I move notes between two accounts?",
    "Sync takes minutes on my tablet, it used to be instant",
    "Great app, simple and fast",
]


def _posts_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "posts.jsonl"
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"id": f"p{i}", "text": f"{PHRASES[i % len(PHRASES)]} (note {i})",
                                     "rating": 1 + i % 5, "date": "2026-11-01"}) + "\n")
    return path


def _voxpop(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "VOXPOP_DATABASE_URL": db_url, "VOXPOP_CONFIG": "", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "voxpop.cli", *args], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_classify_resumes_after_kill_without_repeating(tmp_path: Path, db_url: str) -> None:
    n = 600
    assert _voxpop(db_url, "import", "--input", str(_posts_file(tmp_path, n)), "--product", "notely").wait() == 0
    store = Store(db_url)

    worker = _voxpop(db_url, "classify", "--json")
    deadline = time.monotonic() + 240
    done_before = 0
    while time.monotonic() < deadline:
        with store.sessions() as session:
            done_before = session.scalar(select(func.count()).select_from(Classification)) or 0
        if done_before >= 64 or worker.poll() is not None:
            break
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert 0 < done_before < n, "the kill should land mid-backlog"
    with store.sessions() as session:
        before = dict(session.execute(select(Classification.post_id, Classification.classified_at)).tuples().all())

    # The killed worker's claim is still held; once its lease has passed a restart takes it over.
    time.sleep(1.5)
    resume = _voxpop(db_url, "classify", "--lease", "1", "--json")
    out, err = resume.communicate(timeout=600)
    assert resume.returncode == 0, err
    with store.sessions() as session:
        after = dict(session.execute(select(Classification.post_id, Classification.classified_at)).tuples().all())
        statuses = dict(session.execute(select(Post.status, func.count()).group_by(Post.status)).tuples().all())
    store.dispose()
    assert len(after) + statuses.get("skipped", 0) == n
    assert statuses.get("pending", 0) == 0 and statuses.get("classifying", 0) == 0
    assert all(after[pid] == ts for pid, ts in before.items()), "a saved classification was redone"
