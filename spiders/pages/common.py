"""Small helpers shared by every page parser: the malformed-body error, JSON decoding, shape checks."""

from __future__ import annotations

import json
from typing import Any


class MalformedBody(ValueError):
    """A response body that is not the shape the parser expects (counted, retried once, never stored)."""


def load_json(body: bytes | str | Any) -> Any:
    """Decode a JSON body (already-decoded values pass through); raise :class:`MalformedBody` otherwise."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody(f"body is not UTF-8: {exc}") from exc
    if isinstance(body, str):
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise MalformedBody(f"body is not JSON: {exc.msg} at {exc.pos}") from exc
    return body


def expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """Return ``value`` when it has the expected type, else raise :class:`MalformedBody` naming ``what``."""
    if not isinstance(value, kind):
        raise MalformedBody(f"{what}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


def label(node: Any) -> str | None:
    """The ``label`` of an App Store feed node (``{"label": ...}``), or None."""
    if isinstance(node, dict):
        value = node.get("label")
        return None if value is None else str(value)
    return None
