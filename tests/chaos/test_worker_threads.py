"""Workers on one machine share its cores: torch threads sized to the live local workers of a role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from classify.threads import ThreadShare, cores
from tests.conftest import PROJECT_ROOT
from voxpop.cli import main

pytestmark = pytest.mark.chaos
CHILD = ("import sys, time; from classify.threads import ThreadShare; s = ThreadShare(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)")


def _child(role: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, role], cwd=PROJECT_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_threads_follow_the_local_workers_of_the_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXPOP_RUNTIME_DIR", str(tmp_path))
    env = {**os.environ, "VOXPOP_RUNTIME_DIR": str(tmp_path)}
    share = ThreadShare("classify")
    assert share.local_workers() == 1 and share.threads() == cores()
    other_role = _child("crawl", env)
    second = _child("classify", env)
    try:
        assert share.local_workers() == 2  # the crawl worker does not count
        assert share.threads() == max(1, cores() // 2)
        import torch

        assert share.apply() == torch.get_num_threads() == max(1, cores() // 2)
    finally:
        second.kill()
        second.wait()
        other_role.kill()
        other_role.wait()
    assert share.local_workers() == 1 and share.threads() == cores()  # the dead worker's file is gone
    assert ThreadShare("classify", threads=3).threads() == 3
    share.close()
    assert not any(p.name == f"classify-{os.getpid()}" for p in tmp_path.rglob("*"))


def test_worker_threads_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXPOP_RUNTIME_DIR", str(tmp_path))
    config = tmp_path / "voxpop.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "v.db"}"\n', encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(main, ["--config", str(config), "worker", "--role", "classify", "--until-idle",
                                       "--threads", "1", "--json"], env={"VOXPOP_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["threads"] == 1 and time.monotonic() - started < 120
    bad = CliRunner().invoke(main, ["--config", str(config), "worker", "--role", "classify", "--threads", "0"])
    assert bad.exit_code == 2 and "--threads" in bad.output
