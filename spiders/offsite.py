"""Refuse redirects that leave the source's own origins (Scrapy's OffsiteMiddleware idea, for redirects).

A site that answers ``301 Location: https://elsewhere.example/...`` would otherwise have its
redirect followed and the other host's content stored under the source's URL. Off-site means another
*origin*: scheme, host and port. ``http://127.0.0.1:8000`` redirecting to ``http://127.0.0.1:6379/``
is another service on the same machine and is refused like another host. The allowed origins come
from the spider (:meth:`spiders.base.VoxpopSpider.allowed_origins`: the base URL's origin, its
``www.`` twin and subdomains at the same scheme and port, plus the origins the spider's own arguments
name); the one relaxation is the upgrade of an allowed ``http`` origin on port 80 to ``https`` on 443.
A refused redirect is logged, counted (``voxpop/offsite_redirect_refused``, ``offsite_redirects`` in
the run, which makes it partial) and goes to the request's errback; a redirect to anything but
http(s) is refused the same way.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

logger = logging.getLogger(__name__)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]  # scheme, host (lower case, no trailing dot), port


class OffsiteRedirectRefused(IgnoreRequest):
    """A redirect to an origin the source does not own (another scheme, host or port)."""


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s) URL, the port made explicit; None for any other scheme or a bad port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def origins_of(urls: list[str]) -> set[Origin]:
    """The origins of ``urls`` with each host's ``www.`` twin (both ways)."""
    out: set[Origin] = set()
    for url in urls:
        origin = origin_of(url)
        if origin is None:
            continue
        scheme, host, port = origin
        bare = host.removeprefix("www.")
        out |= {(scheme, bare, port), (scheme, "www." + bare, port)}
    return out


def origin_allowed(target: Origin, allowed: set[Origin]) -> bool:
    """Whether ``target`` is an allowed origin, a subdomain of one at its scheme and port, or the https
    upgrade (port 443) of an allowed http origin on port 80."""
    scheme, host, port = target
    for a_scheme, a_host, a_port in allowed:
        if not (host == a_host or host.endswith("." + a_host)):
            continue
        if (scheme, port) == (a_scheme, a_port) or (
                (a_scheme, a_port) == ("http", 80) and (scheme, port) == ("https", 443)):
            return True
    return False


class OffsiteRedirectMiddleware:
    """Runs before Scrapy's RedirectMiddleware sees a 3xx (see the module docstring)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> OffsiteRedirectMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in REDIRECT_STATUSES or b"Location" not in response.headers:
            return response
        location = (response.headers.get(b"Location") or b"").decode("latin-1").strip()
        target = urljoin(request.url, location)
        spider = self.crawler.spider
        if hasattr(spider, "allowed_origins"):
            allowed = spider.allowed_origins()
        else:
            allowed = origins_of([request.url])
        origin = origin_of(target)
        if origin is not None and origin_allowed(origin, allowed):
            return response
        self.crawler.stats.inc_value("voxpop/offsite_redirect_refused")
        if hasattr(spider, "offsite_redirects"):
            spider.offsite_redirects += 1
        logger.warning("refused redirect from %s to %s: not one of the source's origins (%s)", request.url,
                       target[:200], ", ".join(f"{o[0]}://{o[1]}:{o[2]}" for o in sorted(allowed)))
        raise OffsiteRedirectRefused(f"redirect to another origin refused: {target[:200]}")
