"""``voxpop demo``: the whole path, offline, on the embedded defaults.

It serves our own review feeds and forum threads for one product and two competitors from a local
site server, crawls them with the real Scrapy engine, stores them (SQLite unless
``VOXPOP_DATABASE_URL`` says otherwise), classifies them with the packaged model, detects emerging
issues, delivers the alert through a real local SMTP server (keeping an ``.eml`` copy), writes a
competitor report, and prints where each output is and what happened at each stage.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from voxpop.config import Config, load_config
from voxpop.demo import content as demo_content

Echo = Callable[[str], None] | None
APPSTORE_PAGES = 2
COUNTRIES = ("us",)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_site(root: Path, today: datetime) -> None:
    """Write the demo's site content in the local site server's format (see demo_site)."""
    from voxpop.demo.site import write_routes

    routes: dict[str, Any] = {}
    for product in demo_content.PRODUCTS:
        reviews = demo_content.reviews_for(product, today.date())
        pages = max(1, min(10, -(-len(reviews) // demo_content.FEED_PAGE_SIZE)))
        for country in COUNTRIES:
            for page in range(1, pages + 1):
                path = f"/{country}/rss/customerreviews/page={page}/id={product.app_id}/sortby=mostrecent/json"
                routes[path] = demo_content.appstore_feed(product, reviews, page, pages, country)
    for path, body in demo_content.discourse_site(today.date()).items():
        routes[f"/forum{path}"] = body
    write_routes(root, routes, robots="User-agent: *\nDisallow: /private/\n")


def write_config(path: Path, site_url: str, database_url: str, smtp_port: int, outbox: Path) -> None:
    """The demo's voxpop.toml: three products on the local site, mail to the local SMTP server."""
    lines = [
        f'database_url = "{database_url}"',
        "[crawl]",
        'contact_url = "https://example.invalid/voxpop-demo"',
        f'since = "{(datetime.now(UTC) - timedelta(days=90)).date().isoformat()}"',
        "timeout_s = 300",
    ]
    for product in demo_content.PRODUCTS:
        lines += [
            "[[products]]", f'slug = "{product.slug}"', f'name = "{product.name}"',
            f"own = {'true' if product.own else 'false'}", f'keywords = ["{product.name.lower()}"]',
            f'recipients = ["{"pm" if product.own else "competitive-intel"}@notely.example"]',
            "[[products.sources]]", 'name = "appstore"', 'spider = "appstore"',
            f'params = {{ app_id = "{product.app_id}", countries = "{",".join(COUNTRIES)}", '
            f'base_url = "{site_url}" }}',
        ]
        if product.forum:
            lines += ["[[products.sources]]", 'name = "forum"', 'spider = "discourse"',
                      f'params = {{ base_url = "{site_url}/forum" }}']
        for job_id, statement, examples in demo_content.JOBS:
            lines += ["[[products.jobs]]", f'id = "{job_id}"', f'statement = "{statement}"',
                      "examples = [" + ", ".join(json.dumps(e) for e in examples) + "]"]
    lines += [
        "[alerts]", 'recipients = ["cx@notely.example"]', f'outbox_dir = "{outbox}"',
        "[smtp]", 'host = "127.0.0.1"', f"port = {smtp_port}", 'security = "none"',
        'sender = "voxpop demo <voxpop@notely.example>"', "timeout_s = 10",
        "[[reports]]", 'name = "weekly"', "products = []", 'recipients = ["leads@notely.example"]',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextmanager
def smtp_server(maildir: Path) -> Iterator[tuple[int, list[Any]]]:
    """A real aiosmtpd server on 127.0.0.1 that keeps what it receives."""
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Keep:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
            return "250 OK"

    port = _free_port()
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def run_demo(workdir: Path, echo: Echo = print) -> dict[str, Any]:
    """Run every stage once and return a summary (also printed through ``echo``)."""
    from alerts.deliver import deliver_pending
    from alerts.issues import run_detect
    from voxpop import operations
    from voxpop.demo.site import start_site

    say = echo or (lambda _line: None)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    site_root, outbox = workdir / "site", workdir / "outbox"
    database_url = os.environ.get("VOXPOP_DATABASE_URL") or f"sqlite:///{workdir / 'voxpop.db'}"
    summary: dict[str, Any] = {"workdir": str(workdir), "database": database_url.split("@")[-1]}
    started = time.monotonic()
    now = datetime.now(UTC)

    write_site(site_root, now)
    site_url, stop_site = start_site(site_root)
    try:
        with smtp_server(outbox) as (smtp_port, received):
            config_path = workdir / "voxpop.toml"
            write_config(config_path, site_url, database_url, smtp_port, outbox)
            config: Config = load_config(config_path, environ={})
            say(f"voxpop demo: site {site_url}, database {summary['database']}, SMTP 127.0.0.1:{smtp_port}")
            store = operations.open_store(config)

            crawled = []
            for product in config.products:
                for outcome in operations.crawl(config, product.slug):
                    crawled.append(outcome)
                    say(f"  crawl   {product.slug:9} {outcome.get('source', ''):9} {outcome.get('status')}: "
                        f"{outcome.get('stored', 0)} new, {outcome.get('updated', 0)} updated, "
                        f"{outcome.get('dropped', 0)} dropped")
            summary["crawl"] = {
                "runs": len(crawled), "stored": sum(o.get("stored", 0) for o in crawled),
                "updated": sum(o.get("updated", 0) for o in crawled),
                "dropped": sum(o.get("dropped", 0) for o in crawled),
                "failed": [o for o in crawled if o.get("status") == "failed"],
            }

            t0 = time.monotonic()
            classified = operations.classify_pending(store, config)
            summary["classify"] = {**classified.as_dict(), "seconds": round(time.monotonic() - t0, 1)}
            say(f"  classify {classified.classified} posts ({classified.skipped_language} not English) "
                f"in {summary['classify']['seconds']} s with {classified.model_version}")

            detections = {}
            for product in config.products:
                report = run_detect(store, config, product.slug)
                detections[product.slug] = report.as_dict() if hasattr(report, "as_dict") else report
            summary["detect"] = detections
            for slug, det in detections.items():
                say(f"  detect  {slug:9} {json.dumps(_short(det), default=str)}")

            delivered = deliver_pending(store, config)
            summary["alert"] = delivered.as_dict() if hasattr(delivered, "as_dict") else delivered
            summary["emails_received"] = len(received)
            summary["eml"] = sorted(str(p) for p in outbox.glob("*.eml")) if outbox.exists() else []
            say(f"  alert   {len(received)} email(s) delivered to the local SMTP server")

            report_path = operations.make_report(store, config, None, now - timedelta(days=30), now, "html",
                                                workdir / "report.html", email=True)
            summary["report"] = str(report_path)
            summary["eml"] = sorted(str(p) for p in outbox.glob("*.eml")) if outbox.exists() else []
            store.dispose()
    finally:
        stop_site()
    summary["seconds"] = round(time.monotonic() - started, 1)
    say("")
    say("outputs:")
    for path in summary["eml"]:
        say(f"  email   {path}")
    say(f"  report  {summary['report']}")
    say(f"  store   {summary['database']}")
    say(f"done in {summary['seconds']} s")
    summary["dashboard"] = dashboard_command(workdir / "voxpop.toml")
    say(f"browse it: {summary['dashboard']}   (then open http://127.0.0.1:8321/)")
    return summary


def dashboard_command(config_path: Path) -> str:
    """The command that serves the dashboard on the demo's data (paths relative to here when they can be)."""
    import shlex

    try:
        shown = str(config_path.relative_to(Path.cwd()))
    except ValueError:
        shown = str(config_path)
    return f".venv/bin/voxpop serve --config {shlex.quote(shown)}"


def _short(detection: Any) -> Any:
    if isinstance(detection, dict):
        return {k: v for k, v in detection.items() if not isinstance(v, (list, dict))}
    return detection
