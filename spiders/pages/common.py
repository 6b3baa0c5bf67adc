"""Small helpers shared by the review-source page parsers."""

from __future__ import annotations

import json
from typing import Any


class MalformedBody(ValueError):
    """A response body that is not the shape the parser expects."""


def load_json(body: bytes | str) -> Any:
    """Decode a JSON body or raise :class:`MalformedBody`."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody(f"not JSON: {exc}") from exc


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
