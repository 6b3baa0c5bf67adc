"""What the community spiders (reddit, hackernews, stackexchange, github, mastodon, bluesky) share.

These sources are APIs with their own rate-limit signals and credentials, and their posts are not
about one product only. :class:`CommunitySpider` adds to :class:`spiders.base.VoxpopSpider`:

- one request at a time: each callback yields the next request only after any wait the API asked
  for (``pause``), so a wait is exact and no request slips past it;
- an explicit end for a refused credential (``auth_failed``: logged, recorded, crawl closed);
- the ``also`` argument (``slug1,slug2`` or ``slug:Name|alias,...``): other products whose names
  appear in a post are put in the item's ``products`` (stored as extra product links);
- ``found_by`` on every post: the query or community that found it.
"""

from __future__ import annotations

import time
from typing import Any

from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

from spiders.base import VoxpopSpider
from spiders.items import PostItem
from spiders.pages.community import compile_keywords, parse_keywords, products_named

# A longer rate-limit wait ends the crawl cleanly (a cap hit): Reddit's and Bluesky's windows (5-10 min)
# are sat out, GitHub's anonymous hour is not.
DEFAULT_MAX_WAIT_S = 600.0


class CommunitySpider(VoxpopSpider):
    """Base of the community spiders (see the module docstring). Not a crawlable spider itself."""

    name = ""  # never registered: only subclasses with a name are spiders
    custom_settings: dict[str, Any] = {
        # Requests are chained one by one anyway; the project's delay and AutoThrottle still apply.
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keywords = compile_keywords(parse_keywords(self.params.get("also")))
        self.waits: list[dict[str, Any]] = []
        self.auth_error: str | None = None

    @property
    def max_wait_s(self) -> float:
        """The longest rate-limit wait this crawl sits out (``-a max_wait_s=`` or ``VOXPOP_MAX_WAIT_S``)."""
        if self.params.get("max_wait_s"):
            return float(self.params["max_wait_s"])
        crawler = getattr(self, "crawler", None)
        return crawler.settings.getfloat("VOXPOP_MAX_WAIT_S", DEFAULT_MAX_WAIT_S) if crawler else DEFAULT_MAX_WAIT_S

    # ---------------------------------------------------------------- waits

    async def pause(self, seconds: float, reason: str) -> bool:
        """Wait ``seconds`` before the next request, as the API asked; False when over ``max_wait_s``.

        Over the limit nothing is waited: a cap hit is recorded and the caller should stop.
        """
        if seconds <= 0:
            return True
        if seconds > self.max_wait_s:
            self.cap_hit(f"{reason}: asked to wait {seconds:.0f}s, more than max_wait_s={self.max_wait_s:.0f}")
            return False
        from twisted.internet import reactor  # not at import time: the crawl installs its own reactor first
        from twisted.internet.task import deferLater

        started = time.monotonic()
        self.logger.info("%s: %s: waiting %.1fs", self.name, reason, seconds)
        await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))  # type: ignore[arg-type]
        waited = time.monotonic() - started
        self.waits.append({"reason": reason, "seconds": round(waited, 3)})
        self.info["waits"] = len(self.waits)
        self.info["waited_s"] = round(sum(w["seconds"] for w in self.waits), 3)
        self.info["wait_reasons"] = sorted({w["reason"] for w in self.waits})
        stats = getattr(getattr(self, "crawler", None), "stats", None)
        if stats is not None:
            stats.inc_value("voxpop/rate_limit_waits")
        return True

    # ---------------------------------------------------------------- failures

    def auth_failed(self, response: Response, hint: str) -> None:
        """Record a refused credential and close the crawl; ``hint`` names what to check."""
        message = f"authentication failed: HTTP {response.status} from {response.url.split('?')[0]}: {hint}"
        self.auth_error = message
        self.info["auth_error"] = message
        self.error_count += 1
        self.errors.append({"url": response.url, "error": message})
        self.logger.error("%s: %s", self.name, message)
        raise CloseSpider("auth_failed")

    def http_failed(self, response: Response, what: str) -> None:
        """Record an unexpected HTTP status on a response the callback accepted (the branch ends)."""
        message = f"HTTP {response.status} on {what}"
        self.error_count += 1
        if len(self.errors) < 20:
            self.errors.append({"url": response.url, "error": message})
        self.logger.warning("%s: %s: %s", self.name, response.url, message)

    # ---------------------------------------------------------------- items

    def community_post(self, fields: dict[str, Any]) -> PostItem:
        """A :class:`PostItem` from a parser's dict, with the other products its text names."""
        text = " ".join(str(fields.get(key) or "") for key in ("title", "text"))
        fields = {**fields, "products": products_named(text, self.keywords, exclude=self.product_slug)}
        return self.post(**fields)
