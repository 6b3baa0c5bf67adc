"""What keeps the dashboard safe: loopback by default, a token for anything else, CSRF on POST, strict headers.

* ``check_bind``: refuses a non-loopback address unless ``VOXPOP_UI_TOKEN`` is set (16+ characters).
* ``SecurityMiddleware``: rejects foreign ``Host`` headers on a loopback server (DNS rebinding), asks for the
  token when one is configured (``Authorization: Bearer`` or the cookie set by ``/login``), issues the CSRF
  cookie, and adds the Content-Security-Policy and friends to every response.
* ``csrf_token`` / ``check_csrf``: a double-submit token: the form field is an HMAC of the per-browser cookie
  under a per-process secret, so a page on another origin can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from voxpop.core.errors import VoxpopError

TOKEN_ENV = "VOXPOP_UI_TOKEN"
MIN_TOKEN_LENGTH = 16
CSRF_COOKIE = "voxpop_csrf"
AUTH_COOKIE = "voxpop_auth"
CSRF_FIELD = "csrf_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
OPEN_PATHS = ("/healthz", "/static/", "/login")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer Chrome sends "Origin: null" on our own form posts.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class WebError(VoxpopError, RuntimeError):
    """The dashboard cannot start as asked (one clear line for the CLI)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only listens on this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token of at least ``MIN_TOKEN_LENGTH`` characters."""
    if token is not None and token != "" and len(token) < MIN_TOKEN_LENGTH:
        raise WebError(f"{TOKEN_ENV} is too short: use at least {MIN_TOKEN_LENGTH} characters "
                       "(for example `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    if not is_loopback(host) and not token:
        raise WebError(f"refusing to listen on {host}: anyone on the network could use the dashboard. "
                       f"Set {TOKEN_ENV} (16+ characters) to require a token, or bind 127.0.0.1")


@dataclass
class Guard:
    """The security settings of one server process."""

    token: str | None = None
    loopback: bool = True
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def sign(self, value: str) -> str:
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()

    def authorised(self, request: Request) -> bool:
        if not self.token:
            return True
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and hmac.compare_digest(header[7:].strip().encode(),
                                                                         self.token.encode()):
            return True
        cookie = request.cookies.get(AUTH_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.sign("auth:" + self.token))

    def token_matches(self, candidate: str) -> bool:
        return bool(self.token) and hmac.compare_digest(candidate.encode(), (self.token or "").encode())

    def host_allowed(self, request: Request) -> bool:
        if not self.loopback:
            return True
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.lower() in LOOPBACK_NAMES


def csrf_token(request: Request) -> str:
    """The token to put into this browser's forms."""
    guard: Guard = request.app.state.guard
    return guard.sign("csrf:" + request.state.csrf_cookie)


def check_csrf(request: Request, submitted: str | None) -> bool:
    """Whether a POST carries this browser's token and, when the browser says where it comes from, our origin."""
    guard: Guard = request.app.state.guard
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not submitted:
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            return False
    elif origin == "null":
        return False
    return hmac.compare_digest(submitted, guard.sign("csrf:" + cookie))


class SecurityMiddleware(BaseHTTPMiddleware):
    """Host check, token check, CSRF cookie and security headers for every request."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        guard: Guard = request.app.state.guard
        if not guard.host_allowed(request):
            return _headers(PlainTextResponse("unknown Host header: this server answers only on loopback names\n",
                                              status_code=421))
        path = request.url.path
        if not path.startswith(OPEN_PATHS) and not guard.authorised(request):
            if path.startswith("/api/"):
                response: Response = JSONResponse({"error": "token required (Authorization: Bearer ...)"},
                                                  status_code=401, headers={"WWW-Authenticate": "Bearer"})
            else:
                target = path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return _headers(response)
        cookie = request.cookies.get(CSRF_COOKIE)
        fresh = not cookie or len(cookie) != 43
        request.state.csrf_cookie = secrets.token_urlsafe(32) if fresh else cookie
        response = await call_next(request)
        if fresh:
            response.set_cookie(CSRF_COOKIE, request.state.csrf_cookie, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        return _headers(response)


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def safe_next(target: str | None) -> str:
    """A redirect target that stays on this site (a path, never ``//host`` or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


__all__ = ["CSP", "Guard", "SecurityMiddleware", "WebError", "check_bind", "check_csrf", "csrf_token",
           "is_loopback", "safe_next"]
