"""Benchmark the dashboard's pages on the 1M-post store of ``bench/report.py``: p95 page time against 300 ms.

Starts ``voxpop serve`` in its own process on that store (SQLite by default), warms each page up, then
requests each page N times over one keep-alive connection and prints p50 / p95 / max wall time and the
server's CPU time per request (wall time on a shared machine includes waiting for a core). Usage::

    .venv/bin/python bench/report.py --posts 1000000 --db /tmp/bench-report.db --keep   # build once
    .venv/bin/python bench/dashboard.py --db /tmp/bench-report.db
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_MS = 300.0
DATA_END = "2026-11-01"  # bench/report.py's data ends here; the overview is asked for the week before it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def pages(biggest_issue: int, n: int, segment: str | None = None) -> list[tuple[str, list[str]]]:
    """(name, paths): a page is requested at its paths in turn (the cold overview asks a new period each time)."""
    period = {"since": "2026-08-01", "until": "2026-10-31"}
    end = date.fromisoformat(DATA_END)
    cold = ["/?" + urlencode({"until": (end - timedelta(days=i)).isoformat()}) for i in range(n + 3)]
    listed = [
        ("overview, repeat view", "/?" + urlencode({"until": DATA_END})),
        ("issues list", "/issues"),
        ("issue page", f"/issues/{biggest_issue}"),
        ("post search, filters", "/posts?" + urlencode({"product": "ours", "source": "appstore", "rating_max": "2",
                                                        "sentiment": "negative", **period})),
        ("post search, words + filters", "/posts?" + urlencode({"q": "crashes notebook", "product": "ours",
                                                                "sentiment": "negative", **period})),
        ("post search, common word", "/posts?" + urlencode({"q": "sync", "product": "rival-a"})),
        ("post search, rare word", "/posts?" + urlencode({"q": "battery widget"})),
        ("post search, newest first", "/posts"),
    ]
    out = [("overview, new period (cold)", cold)] + [(name, [path]) for name, path in listed]
    # The comparison: a new period on every request (cold: nothing cached) and the same one again (repeat).
    for days in (30, 90, 365):
        shifted = ["/compare?" + urlencode({"days": days, "until": (end - timedelta(days=i + 1)).isoformat()})
                   for i in range(n + 3)]
        out.append((f"compare {days} days (cold)", shifted))
        out.append((f"compare {days} days, repeat", ["/compare?" + urlencode({"days": days, "until": DATA_END})]))
    out.append(("compare 365 days, JSON API", ["/api/compare?" + urlencode({"days": 365, "until": DATA_END})]))
    # The job map and segments (a year: the segments read the newest posts, the map the rollups).
    jobs_cold = ["/jobs?" + urlencode({"days": 365, "until": (end - timedelta(days=i + 1)).isoformat()})
                 for i in range(n + 3)]
    out += [("jobs 365 days (cold)", jobs_cold),
            ("jobs 365 days, repeat", ["/jobs?" + urlencode({"days": 365, "until": DATA_END})])]
    if segment:
        out.append(("segment page", [segment]))
    out.append(("releases", ["/releases"]))
    out += [("status", ["/status"]), ("alerts", ["/alerts"]), ("overview JSON API", ["/api/overview"])]
    return out


def ensure_store(url: str, n_posts: int) -> int:
    """Build the store with bench/report.py's generator when empty; return the id of the biggest issue."""
    from sqlalchemy import func, select

    from store.db import Store
    from store.models import Issue, Post

    store = Store(url)
    with store.sessions() as session:
        have = session.scalar(select(func.count()).select_from(Post)) or 0
    if have == 0:
        sys.path.insert(0, str(ROOT / "bench"))
        from report import populate  # bench/report.py

        t = time.perf_counter()
        populate(store, n_posts)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"built store: {n_posts:,} posts in {time.perf_counter() - t:.0f} s")
    else:
        print(f"reusing store with {have:,} posts ({store.dialect})")
    with store.sessions() as session:
        biggest = session.scalar(select(Issue.id).order_by(Issue.size.desc()).limit(1))
    store.dispose()
    return int(biggest or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="/tmp/bench-report.db", help="SQLite file of bench/report.py (built if empty)")
    parser.add_argument("--url", help="any database URL instead of --db")
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts to build when the store is empty")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    args = parser.parse_args()

    url = args.url or f"sqlite:///{args.db}"
    biggest = ensure_store(url, args.posts)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="voxpop-dash-") as tmp:
        config = Path(tmp) / "voxpop.toml"
        config.write_text(f'database_url = "{url}"\n', encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("VOXPOP_UI_TOKEN", None)
        command = [sys.executable, "-m", "voxpop", "serve", "--config", str(config), "--port", str(port)]
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            conn = _wait(port, server)
            header = f"{'page':30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU ms/req':>11}"
            print(f"{header}  goal p95 < {GOAL_MS:.0f} ms")
            failed = []
            for name, paths in pages(biggest, args.requests, first_segment(conn)):
                for i in range(3):
                    _get(conn, paths[i % len(paths)])
                times = []
                cpu0 = cpu_seconds(server.pid)
                for i in range(args.requests):
                    path = paths[(i + 3) % len(paths)]
                    t = time.perf_counter()
                    _get(conn, path)
                    times.append((time.perf_counter() - t) * 1000)
                cpu = (cpu_seconds(server.pid) - cpu0) * 1000 / args.requests
                times.sort()
                p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
                ok = p95 < GOAL_MS
                failed += [] if ok else [name]
                print(f"{name:30} {statistics.median(times):8.0f} {p95:8.0f} {times[-1]:8.0f} {cpu:11.0f}  "
                      f"{'ok' if ok else 'OVER'}")
            load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
            verdict = "all pages within the goal" if not failed else "over: " + ", ".join(failed)
            print(f"{args.requests} requests per page after 3 warm-up requests (a cold page asks a new period "
                  f"each time); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; "
                  f"{verdict}")
        finally:
            server.terminate()
            server.wait(30)


def _wait(port: int, server: subprocess.Popen[bytes]) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"voxpop serve exited: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            _get(conn, "/healthz")
            return conn
        except OSError:
            time.sleep(0.3)
    raise SystemExit("voxpop serve did not answer within 120 s")


def _get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path}: HTTP {response.status}: {body[:300]!r}")
    return body


def first_segment(conn: http.client.HTTPConnection) -> str | None:
    """The page of the largest segment the job map finds over the year (None when it finds none)."""
    found = json.loads(_get(conn, "/api/jobs?" + urlencode({"days": 365, "until": DATA_END})))
    for items in (found.get("segments") or {}).values():
        for segment in items:
            return f"/jobs/{quote(str(segment['job']), safe='')}/segments/{quote(str(segment['key']), safe='')}?" \
                + urlencode({"days": 365, "until": DATA_END})
    return None


if __name__ == "__main__":
    main()
