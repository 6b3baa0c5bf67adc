"""Dashboard security: loopback unless a token is set, token checks, CSRF, headers, escaping of scraped text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from store.db import Store
from tests.web_data import HOSTILE_URL
from tests.web_support import Server, start
from voxpop.web.security import CSP, WebError, check_bind, is_loopback

TOKEN = "correct-horse-battery-staple-42"


@pytest.fixture
def token_server(sqlite_store: Store) -> Iterator[Server]:
    yield from start(sqlite_store, token=TOKEN)


def test_binding_beyond_loopback_needs_a_token() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(WebError, match="VOXPOP_UI_TOKEN"):
            check_bind(host, None)
        check_bind(host, TOKEN)
    with pytest.raises(WebError, match="too short"):
        check_bind("0.0.0.0", "short")


def test_serve_refuses_a_public_address_without_token_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxpop.cli import main

    monkeypatch.delenv("VOXPOP_UI_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "8999"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("voxpop: error: refusing to listen on 0.0.0.0")


def test_every_response_carries_a_strict_policy(seeded_server: Server) -> None:
    for path in ("/", "/posts?q=sync", "/api/issues", "/issues/999999", "/nowhere", "/static/app.css"):
        status, headers, _ = seeded_server.request("GET", path)
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP and "default-src 'none'" in CSP


def test_foreign_host_header_is_refused_on_loopback(seeded_server: Server) -> None:
    status, _, body = seeded_server.request("GET", "/api/issues", headers={"Host": "attacker.example:8321"})
    assert status == 421 and "loopback" in body
    assert seeded_server.request("GET", "/api/issues", headers={"Host": "localhost:8321"})[0] == 200


def test_token_guards_pages_and_api(token_server: Server) -> None:
    s = token_server
    status, headers, _ = s.request("GET", "/issues?state=new")
    assert status == 303 and headers["location"] == "/login?next=%2Fissues%3Fstate%3Dnew"
    assert s.request("GET", "/api/issues")[0] == 401
    assert s.request("GET", "/api/issues", headers={"Authorization": "Bearer wrong-token-wrong-token"})[0] == 401
    assert s.request("GET", "/api/issues", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert s.request("GET", "/healthz")[0] == 200


def _cookies(headers: dict[str, str], raw: list[str] | None = None) -> dict[str, str]:
    jar = {}
    for part in (raw or [headers.get("set-cookie", "")]):
        if "=" in part:
            name, value = part.split(";")[0].split("=", 1)
            jar[name.strip()] = value
    return jar


def test_login_needs_the_form_token_and_the_right_secret(token_server: Server) -> None:
    s = token_server
    status, headers, html = s.request("GET", "/login?next=/posts")
    assert status == 200
    csrf_cookie = _cookies(headers)["voxpop_csrf"]
    form_token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    cookie = f"voxpop_csrf={csrf_cookie}"
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}

    def post(fields: dict[str, str], headers: dict[str, str] = form) -> tuple[int, dict[str, str], str]:
        return s.request("POST", "/login", body=urlencode(fields).encode(), headers=headers)

    assert post({"token": TOKEN, "next": "/posts"})[0] == 403  # no CSRF field
    assert post({"token": TOKEN, "csrf_token": "0" * 64})[0] == 403  # forged field
    assert post({"token": TOKEN, "csrf_token": form_token},
                {**form, "Origin": "http://attacker.example"})[0] == 403  # cross-site
    assert post({"token": "not-the-token-at-all", "csrf_token": form_token})[0] == 403
    status, headers, _ = post({"token": TOKEN, "csrf_token": form_token, "next": "//attacker.example/x"})
    assert status == 303 and headers["location"] == "/"  # never redirects off-site
    auth = _cookies(headers)["voxpop_auth"]
    assert "httponly" in headers["set-cookie"].lower() and "samesite=strict" in headers["set-cookie"].lower()
    assert s.request("GET", "/posts", headers={"Cookie": f"voxpop_auth={auth}"})[0] == 200


def test_hostile_post_is_text_everywhere(seeded_server: Server) -> None:
    s = seeded_server
    pages = ["/posts", "/posts?q=great", f"/issues/{s.seeded.issues['sync']}", "/", "/issues", "/alerts", "/compare"]
    for path in pages:
        status, _, html = s.request("GET", path)
        assert status == 200, path
        assert "<script>document.title" not in html and "<img src=x" not in html and "<b>mallory" not in html, path
        assert HOSTILE_URL not in html and "javascript:" not in html, path
    html = s.request("GET", "/posts?q=great")[2]
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    assert "&lt;b&gt;mallory&lt;/b&gt;" in html and "&lt;i&gt;title&lt;/i&gt;" in html
    status, data = s.get_json("/api/posts?q=great")
    hostile = next(p for p in data["posts"] if p["id"] == s.seeded.hostile_post)
    assert hostile["url"] is None and hostile["text"].startswith("Great app <script>")
