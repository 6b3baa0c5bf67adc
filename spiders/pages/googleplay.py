"""Google Play reviews through the RPC the store's web page uses (``batchexecute``, rpcid ``UsvDTd``).

Request: ``POST {base}/_/PlayStoreUi/data/batchexecute?hl={lang}&gl={country}`` with the form field
``f.req`` = ``[[["UsvDTd", INNER, null, "generic"]]]`` where INNER is the JSON text
``[null, null, [2, SORT, [COUNT, null, TOKEN], null, [null, SCORE]], [APP_ID, 7]]``
(SORT 2 = newest first; TOKEN null on the first page, then the continuation token).

Response: ``)]}'`` then a blank line, then a JSON array whose first element is
``["wrb.fr", "UsvDTd", PAYLOAD, ...]``; PAYLOAD is JSON text: ``[REVIEWS, ..., [null, TOKEN]]``. Each
review is an array: ``[0]`` id, ``[1][0]`` user name, ``[2]`` score 1..5, ``[4]`` text, ``[5]``
``[seconds, nanos]``, ``[6]`` thumbs up, ``[7]`` developer reply, ``[10]`` app version. Pages are small.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from spiders.pages.common import MalformedBody
from voxpop.core.timeutil import parse_datetime

RPC_ID = "UsvDTd"
SORT_NEWEST = 2
PAGE_SIZE = 100
XSSI_PREFIX = ")]}'"


def rpc_url(base_url: str, lang: str, country: str) -> str:
    """The batchexecute endpoint for one language and country."""
    return f"{base_url}/_/PlayStoreUi/data/batchexecute?{urlencode({'hl': lang, 'gl': country})}"


def rpc_body(app_id: str, token: str | None = None, count: int = PAGE_SIZE, sort: int = SORT_NEWEST) -> str:
    """The form-encoded body asking for one page of reviews."""
    inner = json.dumps([None, None, [2, sort, [count, None, token], None, [None, None]], [app_id, 7]],
                       separators=(",", ":"))
    outer = json.dumps([[[RPC_ID, inner, None, "generic"]]], separators=(",", ":"))
    return urlencode({"f.req": outer})


@dataclass
class ReviewsPage:
    """The reviews of one RPC answer and the token of the next page (None at the end)."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = None


def _at(node: Any, *path: int) -> Any:
    for index in path:
        if not isinstance(node, list) or len(node) <= index:
            return None
        node = node[index]
    return node


def _payload(body: bytes | str) -> Any:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    text = text.lstrip()
    if text.startswith(XSSI_PREFIX):
        text = text[len(XSSI_PREFIX):]
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"batchexecute answer is not JSON: {exc}") from exc
    for part in envelope if isinstance(envelope, list) else []:
        if isinstance(part, list) and len(part) > 2 and part[0] == "wrb.fr" and part[1] == RPC_ID:
            if part[2] is None:
                return None  # the RPC answered with nothing: no (more) reviews
            if not isinstance(part[2], str):
                raise MalformedBody("UsvDTd payload is not JSON text")
            try:
                return json.loads(part[2])
            except json.JSONDecodeError as exc:
                raise MalformedBody(f"UsvDTd payload is not JSON: {exc}") from exc
    raise MalformedBody("no UsvDTd answer in the batchexecute response")


def parse_reviews(body: bytes | str, app_id: str, lang: str = "en") -> ReviewsPage:
    """Parse one batchexecute answer into post dicts and the next continuation token.

    Raises:
        MalformedBody: the body is not a batchexecute answer carrying a ``UsvDTd`` payload.
    """
    payload = _payload(body)
    page = ReviewsPage()
    if payload is None:
        return page
    reviews = _at(payload, 0)
    if reviews is None:
        reviews = []
    if not isinstance(reviews, list):
        raise MalformedBody("UsvDTd payload[0] is not a list of reviews")
    token = _at(payload, len(payload) - 1, 1) if isinstance(payload, list) and payload else None
    page.token = token if isinstance(token, str) and token else None
    for review in reviews:
        if not isinstance(review, list):
            raise MalformedBody(f"review: expected array, got {type(review).__name__}")
        review_id = _at(review, 0)
        seconds = _at(review, 5, 0)
        try:
            created = parse_datetime(seconds) if isinstance(seconds, int | float) else None
        except (ValueError, OverflowError):
            created = None
        score = _at(review, 2)
        reply = _at(review, 7, 1)
        page.posts.append({
            "external_id": str(review_id) if review_id else "",
            "text": _at(review, 4) if isinstance(_at(review, 4), str) else "",
            "author": _at(review, 1, 0) if isinstance(_at(review, 1, 0), str) else None,
            "rating": float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None,
            "created_at": created,
            "version": _at(review, 10) if isinstance(_at(review, 10), str) else None,
            "url": f"https://play.google.com/store/apps/details?id={app_id}&hl={lang}&reviewId={review_id}",
            "found_by": "googleplay",
            "raw": {"review": review, "has_reply": isinstance(reply, str)},
        })
    return page
