"""Shared fixtures: fresh databases (SQLite, and PostgreSQL when services are required) and a real SMTP server."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from store.db import Store  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

pytest_plugins: list[str] = ["tests.wheel_support"]  # the built wheel, a venv with it installed
if (Path(__file__).parent / "conftest_sites.py").exists():
    pytest_plugins.append("tests.conftest_sites")
pytest_plugins.append("tests.web_support")  # dashboard server and headless browser fixtures


def services_required() -> bool:
    """True when tests needing PostgreSQL and Redis must run (and fail if those are broken)."""
    return os.environ.get("VOXPOP_REQUIRE_SERVICES") == "1"


def postgres_base_url() -> str | None:
    """The PostgreSQL server to test against, or None when PostgreSQL tests should skip."""
    url = os.environ.get("VOXPOP_TEST_DATABASE_URL")
    if url:
        return url
    return PG_ADMIN_URL if services_required() else None


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def services() -> bool:
    """Whether PostgreSQL/Redis tests are required in this run."""
    return services_required()


def _fresh_postgres_database() -> Iterator[str]:
    base = postgres_base_url()
    if base is None:
        pytest.skip("PostgreSQL tests skipped: set VOXPOP_REQUIRE_SERVICES=1 or VOXPOP_TEST_DATABASE_URL")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"voxpop_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        if services_required():
            raise
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc}")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, empty SQLite database file for one test."""
    return f"sqlite:///{tmp_path / 'voxpop-test.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (skips unless services are required)."""
    yield from _fresh_postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: SQLite always, PostgreSQL when services are required or a URL is given."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'voxpop-test.db'}"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on a fresh database (SQLite and PostgreSQL)."""
    s = Store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """A migrated store on a fresh SQLite file."""
    s = Store(sqlite_url)
    yield s
    s.dispose()


@dataclass
class SmtpServer:
    """A real aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)


class _KeepingHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        self.server.messages.append(message)  # type: ignore[arg-type]
        self.server.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def start_smtp(handler: Any) -> tuple[Any, int]:
    """The one way tests run an SMTP server: aiosmtpd with ``handler`` on a free port; returns (controller, port).

    Pick the port first: aiosmtpd echoes its ``port`` argument rather than choosing one.
    """
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server that keeps what it receives; stopped after the test."""
    server = SmtpServer(host="127.0.0.1", port=0)
    controller, server.port = start_smtp(_KeepingHandler(server))
    try:
        yield server
    finally:
        controller.stop()
