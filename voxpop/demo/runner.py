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


DASHBOARD_URL = "http://127.0.0.1:8321"  # ``voxpop serve``'s default address


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
        # Mails link to the dashboard that ``voxpop serve`` starts on the demo's data.
        "[ui]", f'base_url = "{DASHBOARD_URL}"',
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


class StageFailed(Exception):
    """A demo stage failed; the demo stops there (see :func:`run_demo`)."""


def _stored_posts(store: Any) -> tuple[int, int]:
    """(posts, alerts) the demo's database already holds."""
    from sqlalchemy import func, select

    from store.models import Alert, Post

    with store.sessions() as session:
        posts = session.scalar(select(func.count()).select_from(Post)) or 0
        alerts = session.scalar(select(func.count()).select_from(Alert)) or 0
    return int(posts), int(alerts)


def run_demo(workdir: Path, echo: Echo = print) -> dict[str, Any]:
    """Run every stage once and return a summary (also printed through ``echo``).

    A stage that fails stops the demo: ``summary["failed"]`` lists ``{"stage", "reason"}`` (the crawl
    child's own last error line for a crawl) and the ``voxpop demo`` command exits non-zero. A second
    run in the same folder reuses its database (nothing is stored or sent twice) and says so.
    """
    from alerts.deliver import deliver_pending
    from alerts.issues import run_detect
    from voxpop import operations
    from voxpop.demo.site import start_site

    say = echo or (lambda _line: None)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    site_root, outbox = workdir / "site", workdir / "outbox"
    database_url = os.environ.get("VOXPOP_DATABASE_URL") or f"sqlite:///{workdir / 'voxpop.db'}"
    summary: dict[str, Any] = {"workdir": str(workdir), "database": database_url.split("@")[-1], "failed": []}
    started = time.monotonic()
    now = datetime.now(UTC)
    earlier_eml = set(outbox.glob("*.eml")) if outbox.exists() else set()

    def fail(stage: str, reason: str) -> None:
        summary["failed"].append({"stage": stage, "reason": reason})
        say(f"  {stage:7} FAILED: {reason}")

    def stage(name: str, work: Callable[[], None]) -> None:
        if summary["failed"]:
            return
        try:
            work()
        except StageFailed as exc:
            fail(name, str(exc))
        except Exception as exc:  # noqa: BLE001 - any stage error ends the demo with its name and reason
            fail(name, f"{exc.__class__.__name__}: {exc}")

    write_site(site_root, now)
    site_url, stop_site = start_site(site_root)
    try:
        with smtp_server(outbox) as (smtp_port, received):
            config_path = workdir / "voxpop.toml"
            write_config(config_path, site_url, database_url, smtp_port, outbox)
            config: Config = load_config(config_path, environ={})
            say(f"voxpop demo: site {site_url}, database {summary['database']}, SMTP 127.0.0.1:{smtp_port}")
            store = operations.open_store(config)
            before_posts, before_alerts = _stored_posts(store)
            summary["reused"] = {"posts": before_posts, "alerts": before_alerts, "eml": len(earlier_eml)}
            if before_posts or earlier_eml:
                say(f"  reusing {summary['database']} from an earlier demo: {before_posts} posts, {before_alerts} "
                    f"alerts, {len(earlier_eml)} .eml in {outbox}; nothing is stored or sent twice "
                    f"(delete {workdir} to start clean)")

            def crawl() -> None:
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
                failed = summary["crawl"]["failed"]
                if failed:
                    raise StageFailed("; ".join(f"{o['product']}/{o['source']}: {o.get('reason')}" for o in failed))
                if not _stored_posts(store)[0]:
                    raise StageFailed("the crawls finished but stored no posts")

            def classify() -> None:
                t0 = time.monotonic()
                classified = operations.classify_pending(store, config)
                summary["classify"] = {**classified.as_dict(), "seconds": round(time.monotonic() - t0, 1)}
                say(f"  classify {classified.classified} posts ({classified.skipped_language} flagged: a language "
                    f"not classified) in {summary['classify']['seconds']} s with {classified.model_version}")

            def detect() -> None:
                detections = {}
                for product in config.products:
                    report = run_detect(store, config, product.slug)
                    detections[product.slug] = report.as_dict() if hasattr(report, "as_dict") else report
                summary["detect"] = detections
                summary["themes"] = operations.update_themes_after_detect(store)
                for slug, det in detections.items():
                    say(f"  detect  {slug:9} {json.dumps(_short(det), default=str)}")

            def alert() -> None:
                delivered = deliver_pending(store, config)
                summary["alert"] = delivered.as_dict() if hasattr(delivered, "as_dict") else delivered
                summary["emails_received"] = len(received)
                summary["eml"] = sorted(str(p) for p in set(outbox.glob("*.eml")) - earlier_eml) \
                    if outbox.exists() else []
                say(f"  alert   {len(received)} email(s) delivered to the local SMTP server")
                if delivered.failed or delivered.retrying:
                    raise StageFailed(f"{delivered.failed + delivered.retrying} delivery(ies) failed: "
                                      f"{'; '.join(delivered.errors[:3]) or 'see the deliveries table'}")

            def report() -> None:
                report_path = operations.make_report(store, config, None, now - timedelta(days=30), now, "html",
                                                     workdir / "report.html", email=True)
                summary["report"] = str(report_path)
                summary["eml"] = sorted(str(p) for p in set(outbox.glob("*.eml")) - earlier_eml) \
                    if outbox.exists() else []

            for name, work in (("crawl", crawl), ("classify", classify), ("detect", detect), ("alert", alert),
                               ("report", report)):
                stage(name, work)
            store.dispose()
    finally:
        stop_site()
    summary["seconds"] = round(time.monotonic() - started, 1)
    say("")
    if summary["failed"]:
        first = summary["failed"][0]
        say(f"demo FAILED at stage {first['stage']}: {first['reason']}")
        return summary
    say("outputs:")
    for path in summary["eml"]:
        say(f"  email   {path}")
    if earlier_eml:
        say(f"  ({len(earlier_eml)} earlier .eml kept in {outbox})")
    say(f"  report  {summary['report']}")
    say(f"  store   {summary['database']}")
    say(f"done in {summary['seconds']} s")
    summary["dashboard"] = dashboard_command(workdir / "voxpop.toml")
    say(f"browse it: {summary['dashboard']}   (then open {DASHBOARD_URL}/)")
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
