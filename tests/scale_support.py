"""Helpers of the scale-out tests and bench/scale.py: services, a paged review site, worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"
PHRASES = [
    "app crashes on start",
    "please add dark mode",
    "sync is slow today",
    "love the new widget",
    "export to pdf fails",
    "great and simple app",
]


def services_required() -> bool:
    return os.environ.get("VOXPOP_REQUIRE_SERVICES") == "1"


def redis_url() -> str | None:
    """The Redis to test against, or None (skip) when services are not required and none is given."""
    url = os.environ.get("VOXPOP_TEST_REDIS_URL") or (REDIS_TEST_URL if services_required() else None)
    if url is None:
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3)
    try:
        client.ping()
    except Exception:
        if services_required():
            raise
        return None
    finally:
        client.close()
    return url


def fresh_slug(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def appstore_site(root: Path, app_id: str, countries: list[str], pages: int, per_page: int = 3,
                  delay_s: float | None = None) -> Path:
    """A local App Store feed: ``pages`` pages per country, each with ``per_page`` reviews."""
    from demo_site import write_routes
    from tests.review_sites import appstore_entry, appstore_page

    routes: dict[str, Any] = {}
    n = 0
    for country in countries:
        for page in range(1, pages + 1):
            entries = []
            for _ in range(per_page):
                entries.append(appstore_entry(n, app_id, country))
                n += 1
            body = appstore_page(entries, app_id, country, page, pages)
            target = f"/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"
            routes[target] = {"__response__": True, "json": body, **({"delay_s": delay_s} if delay_s else {})}
    return write_routes(root, routes, robots="User-agent: *\nAllow: /\n")


def write_config(path: Path, database_url: str, products: list[dict[str, Any]], extra: str = "") -> Path:
    """A voxpop.toml with the given products (slug, sources: name, spider, params)."""
    lines = [f'database_url = "{database_url}"', extra, ""]
    for product in products:
        lines += ["[[products]]", f'slug = "{product["slug"]}"']
        for source in product.get("sources", []):
            params = ", ".join(f'{k} = {json.dumps(v)}' for k, v in source["params"].items())
            lines += ["  [[products.sources]]", f'  name = "{source["name"]}"', f'  spider = "{source["spider"]}"',
                      f"  params = {{ {params} }}", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def voxpop(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``voxpop --config CONFIG ARGS...`` as a real subprocess (stdout/stderr piped)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("VOXPOP_DATABASE_URL", None)
    full_env.update({k: v for k, v in (env or {}).items()})
    return subprocess.Popen([sys.executable, "-m", "cli", "--config", str(config), *args], cwd=PROJECT_ROOT,
                            env=full_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    """Wait for a worker; return (exit code, stdout, stderr)."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def insert_posts(store: Any, product: str, n: int, start: int = 0) -> None:
    """``n`` short pending posts for ``product`` in one Core executemany (fast on any database)."""
    from datetime import UTC, datetime

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
