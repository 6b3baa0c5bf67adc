"""Webhook signatures with a timestamp, so a captured request cannot be replayed later.

The header (``X-Voxpop-Signature``) reads ``t=<unix seconds>,v1=<hex HMAC-SHA256>``, where the HMAC key
is the webhook's secret and the signed message is ``<t>.<raw body>`` (the scheme Stripe uses). A
receiver recomputes the HMAC over the timestamp and the body it received, compares in constant time,
and refuses a timestamp outside its window (default 5 minutes) so an old request cannot be sent again.
:func:`verify` is the reference implementation; README shows the same in a few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Voxpop-Signature"
DEFAULT_TOLERANCE_S = 300


def signature(body: bytes, key: str, timestamp: int | None = None) -> str:
    """The header value ``t=...,v1=...`` for ``body`` signed with ``key`` at ``timestamp`` (default now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(key.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(header: str | None, body: bytes, key: str, *, tolerance_s: float = DEFAULT_TOLERANCE_S,
           now: float | None = None) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made within ``tolerance_s`` of ``now``."""
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = hmac.new(key.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))
