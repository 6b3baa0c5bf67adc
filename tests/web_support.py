"""Dashboard test fixtures: a real uvicorn server on a free port and a real headless Chromium (Selenium).

Loaded as a plugin by ``tests/conftest.py``, so every test module can ask for these fixtures.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from store.db import Store
from tests.conftest import free_port, services_required
from tests.web_data import Seeded, seed
from voxpop.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@dataclass
class Server:
    """A running dashboard: its base URL, store and seeded ids."""

    url: str
    store: Store
    seeded: Seeded
    app: Any

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        """One raw HTTP request (no redirects followed, no cookies kept)."""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        finally:
            conn.close()

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _, text = self.request("GET", path, headers=headers)
        return status, json.loads(text)


def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def start(store: Store, config: Any = None, token: str | None = None) -> Iterator[Server]:
    seeded = seed(store)
    app = create_app(store, config, token=token)
    for url in serve(app):
        yield Server(url=url, store=store, seeded=seeded, app=app)


@pytest.fixture
def seeded_server(sqlite_store: Store) -> Iterator[Server]:
    """The dashboard over a SQLite store holding the demo-like data."""
    yield from start(sqlite_store)


@pytest.fixture
def seeded_server_any(store: Store) -> Iterator[Server]:
    """The same on SQLite and (when services are required) PostgreSQL."""
    yield from start(store)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven through chromium-driver by Selenium."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = "browser tests need /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium-driver)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1600", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """Severe browser console messages since the last call (CSP violations show up here)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
