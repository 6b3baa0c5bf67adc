"""Checks shared by the mail tests: inline PNG parts and the cid: references of the HTML part."""

from __future__ import annotations

import re
from email.message import EmailMessage


def inline_images(message: EmailMessage) -> dict[str, bytes]:
    """Content-ID (without <>) -> bytes of every image/png part."""
    return {str(part["Content-ID"]).strip("<>"): part.get_payload(decode=True)
            for part in message.walk() if part.get_content_type() == "image/png"}


def assert_cid_images(message: EmailMessage) -> list[str]:
    """Every cid: the HTML references is an image/png part of the message, and every such part is used."""
    html = message.get_body(("html",)).get_content()
    cids = re.findall(r'src="cid:([^"]+)"', html)
    images = inline_images(message)
    assert cids and sorted(cids) == sorted(images), (cids, list(images))
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images.values())
    related = message.get_body(("related",))
    assert related is not None and related.get_content_type() == "multipart/related"
    return cids
