"""Helpers shared by the bench scripts (never by tests): a paged App Store site, voxpop processes, bulk posts.

The bench scripts put the project root on ``sys.path`` and import this as ``bench.support``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("sync", "export", "search", "crash", "widget", "dark mode", "tags", "notebook", "login", "backup")
PHRASES = ("app crashes on start", "please add dark mode", "sync is slow today", "love the new widget",
           "export to pdf fails", "great and simple app")


def _label(value: Any) -> dict[str, str]:
    return {"label": str(value)}


def appstore_site(root: Path, app_id: str, countries: list[str], pages: int, per_page: int = 50,
                  delay_s: float = 0.0) -> tuple[Path, int]:
    """Write App Store feed pages (``pages`` per country, ``per_page`` reviews each); return (root, reviews)."""
    from voxpop.demo.site import write_routes

    start = datetime.now(UTC) - timedelta(hours=1)
    routes: dict[str, Any] = {}
    n = 0
    for country in countries:
        for page in range(1, pages + 1):
            entries = []
            for _ in range(per_page):
                n += 1
                words = ", ".join(WORDS[(n + k) % len(WORDS)] for k in range(3))
                entries.append({
                    "author": {"uri": _label(f"https://example.invalid/u{n}"), "name": _label(f"user{n}"), "label": ""},
                    "updated": _label((start - timedelta(minutes=n)).isoformat()),
                    "im:rating": _label(1 + n % 5), "im:version": _label(f"4.{n % 7}"), "id": _label(10**9 - n),
                    "title": _label(f"About {words}"),
                    "content": {"label": f"Review {n}: I mostly use it for {words}. The latest update changed how "
                                         f"{WORDS[n % len(WORDS)]} works and I have mixed feelings about it.",
                                "attributes": {"type": "text"}},
                    "im:voteSum": _label(0), "im:voteCount": _label(0),
                })
            path = f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"
            routes[path] = {"feed": {"entry": entries, "link": [{"attributes": {
                "rel": "last", "href": f"https://example.invalid/{country}/rss/customerreviews/page={pages}"
                                       f"/id={app_id}/sortby=mostrecent/xml"}}]}}
    if delay_s:
        routes = {path: {"__response__": True, "json": body, "delay_s": delay_s} for path, body in routes.items()}
    write_routes(root, routes, robots="User-agent: *\nAllow: /\n")
    return root, n


def write_config(path: Path, database_url: str, products: list[dict[str, Any]], extra: str = "") -> Path:
    """A voxpop.toml with the given products (slug, sources: name, spider, params)."""
    lines = [f'database_url = "{database_url}"', extra, ""]
    for product in products:
        lines += ["[[products]]", f'slug = "{product["slug"]}"']
        for source in product.get("sources", []):
            params = ", ".join(f"{k} = {json.dumps(v)}" for k, v in source["params"].items())
            lines += ["  [[products.sources]]", f'  name = "{source["name"]}"', f'  spider = "{source["spider"]}"',
                      f"  params = {{ {params} }}", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def voxpop(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``voxpop --config CONFIG ARGS...`` as a real subprocess (stdout/stderr piped)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONUNBUFFERED": "1"}
    full_env.pop("VOXPOP_DATABASE_URL", None)
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "voxpop.cli", "--config", str(config), *args], cwd=ROOT,
                            env=full_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish_all(procs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str, str]]:
    """Wait for several processes at once, draining all their pipes together; (exit code, stdout, stderr) each."""
    def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise SystemExit(f"process still running after {timeout:.0f}s; its log ends:\n{err[-3000:]}") from None
        return proc.returncode, out, err

    with ThreadPoolExecutor(max_workers=len(procs)) as pool:
        return list(pool.map(finish, procs))


def insert_posts(store: Any, product: str, n: int, start: int = 0) -> None:
    """``n`` short pending posts for ``product`` in one Core executemany (fast on any database)."""
    from sqlalchemy import insert

    from store.models import Post
    from store.repo import ensure_product

    with store.transaction() as session:
        pid = ensure_product(session, product, product, False).id
        now = datetime.now(UTC)
        rows = [{"source": "bench", "external_id": f"{product}-{i}", "product_id": pid,
                 "text": f"{PHRASES[i % len(PHRASES)]} {i}", "created_at": now, "fetched_at": now,
                 "language": "en", "content_hash": f"{i:064x}", "status": "pending"} for i in range(start, start + n)]
        session.execute(insert(Post), rows)
