"""How fast the CLI starts, against issue 29's goal: `voxpop --version` and `voxpop report` start in < 0.5 s.

Each figure is taken in fresh processes (after one warm-up run, which also writes Python's and Jinja's
caches, as a second run on a user's machine finds them) and printed as the min and median of wall and
CPU time (the child's user + system time):

- ``voxpop --version``: the whole process;
- ``voxpop report`` start: a process that imports what the report command imports before it reads the
  store (the CLI, ``voxpop.operations``, the report builder and renderers) and exits;
- ``voxpop report`` on an empty store (``--db``: a store of your own instead): the whole command, with
  opening the store, building, rendering and writing a Markdown report.

Usage::

    .venv/bin/python bench/start.py [--runs 7] [--db /tmp/bench-report.db]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 0.5
REPORT_IMPORTS = ("import voxpop.cli, voxpop.operations, voxpop.report.build, voxpop.report.render, "
                  "store.db, store.models")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(name: str, command: list[str], env: dict[str, str], runs: int, goal: float | None) -> None:
    timed(command, env)  # warm-up: bytecode and template caches, page cache
    found = [timed(command, env) for _ in range(runs)]
    walls, cpus = [w for w, _ in found], [c for _, c in found]
    verdict = ""
    if goal is not None:
        verdict = f" -- goal < {goal:g} s: wall {'met' if statistics.median(walls) < goal else 'MISSED'}, " \
                  f"CPU {'met' if statistics.median(cpus) < goal else 'MISSED'}"
    print(f"{name}: wall min {min(walls):.3f} / median {statistics.median(walls):.3f} s, CPU min {min(cpus):.3f} / "
          f"median {statistics.median(cpus):.3f} s ({runs} runs){verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", help="SQLite store for the whole report command (default: a new empty one)")
    args = parser.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's Python keeps compiled modules between runs
    voxpop = [sys.executable, "-m", "voxpop"]
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    measure("voxpop --version", [*voxpop, "--version"], env, args.runs, GOAL_S)
    measure("voxpop report start (its imports)", [sys.executable, "-c", REPORT_IMPORTS], env, args.runs, GOAL_S)
    with tempfile.TemporaryDirectory(prefix="voxpop-start-") as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "empty.db"
        config = Path(tmp) / "voxpop.toml"
        config.write_text(f'database_url = "sqlite:///{db}"\n', encoding="utf-8")
        report = [*voxpop, "--config", str(config), "report", "--all", "--since", "365d", "--format", "md",
                  "--out", str(Path(tmp) / "report.md")]
        measure(f"voxpop report, whole command ({'store ' + str(db) if args.db else 'empty store'})", report, env,
                args.runs, None)


if __name__ == "__main__":
    main()
