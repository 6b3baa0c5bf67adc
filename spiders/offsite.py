"""Refuse redirects that leave the source's own hosts (Scrapy's OffsiteMiddleware idea, for redirects).

A site that answers ``301 Location: https://elsewhere.example/...`` would otherwise have its
redirect followed and the other host's content stored under the source's URL. The allowed hosts
come from the spider (:meth:`spiders.base.VoxpopSpider.allowed_hosts`: the base URL's host, its
``www.`` twin and subdomains, plus hosts the spider's own arguments name). A refused redirect is
logged, counted (``voxpop/offsite_redirect_refused``, ``offsite_redirects`` in the run) and goes to
the request's errback; a redirect to anything but http(s) is refused the same way.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

logger = logging.getLogger(__name__)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class OffsiteRedirectRefused(IgnoreRequest):
    """A redirect to a host the source does not own (or to a scheme other than http/https)."""


def host_allowed(host: str, allowed: set[str]) -> bool:
    """Whether ``host`` is one of ``allowed`` or a subdomain of one."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in allowed)


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
        parts = urlsplit(target)
        spider = self.crawler.spider
        allowed = spider.allowed_hosts() if hasattr(spider, "allowed_hosts") else {urlsplit(request.url).hostname or ""}
        if parts.scheme in ("http", "https") and parts.hostname and host_allowed(parts.hostname, allowed):
            return response
        self.crawler.stats.inc_value("voxpop/offsite_redirect_refused")
        if hasattr(spider, "offsite_redirects"):
            spider.offsite_redirects += 1
        logger.warning("refused redirect from %s to %s: not one of the source's hosts (%s)", request.url,
                       target[:200], ", ".join(sorted(allowed)))
        raise OffsiteRedirectRefused(f"redirect to another host refused: {target[:200]}")
