"""What each spider takes as arguments: names, kinds, which are required (a plain table, no imports of ours).

One table, read by the config loader (``params`` of every ``[[products.sources]]`` is checked at
load, naming the TOML key) and by :class:`spiders.base.VoxpopSpider` (its ``required_args``). No
Scrapy import here, so loading the config stays light.

Kinds: ``text`` (a non-empty string), ``int`` (a whole number >= 1), ``number`` (> 0), ``flag``
(true/false, or "1"/"0", "yes"/"no"), ``list`` (a list of strings, or one comma-separated string),
``url`` (an http or https URL), ``urls`` (a list of those, or paths relative to ``base_url``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arg:
    """One spider argument."""

    kind: str = "text"
    required: bool = False
    help: str = ""


COMMON: dict[str, Arg] = {
    "base_url": Arg("url", help="the service's address (tests and self-hosted instances)"),
}
COMMUNITY: dict[str, Arg] = {
    "also": Arg("list", help="other products whose names link a post to them"),
    "max_wait_s": Arg("number", help="longest rate-limit wait sat out"),
}

SPIDER_ARGS: dict[str, dict[str, Arg]] = {
    "appstore": {"app_id": Arg("text", True), "countries": Arg("list")},
    "googleplay": {"app_id": Arg("text", True), "lang": Arg("text"), "country": Arg("text")},
    "steam": {"app_id": Arg("text", True)},
    "jsonld": {"urls": Arg("urls", True)},
    "discourse": {"base_url": Arg("url", True), "category": Arg("text"), "query": Arg("text"),
                  "max_topics": Arg("int"), "max_list_pages": Arg("int"), "max_search_pages": Arg("int")},
    "reddit": {"subreddits": Arg("list", True), "query": Arg("text"), "auth_url": Arg("url"), "comments": Arg("flag"),
               "comments_max": Arg("int"), "more_max": Arg("int"), **COMMUNITY},
    "hackernews": {"query": Arg("text", True), "tags": Arg("text"), "hits_per_page": Arg("int"), **COMMUNITY},
    "stackexchange": {"site": Arg("text", True), "query": Arg("text", True), **COMMUNITY},
    "github": {"repo": Arg("text", True), "comments": Arg("flag"), **COMMUNITY},
    "mastodon": {"tag": Arg("text", True), **COMMUNITY},
    "bluesky": {"query": Arg("text", True), **COMMUNITY},
}


def arguments(spider: str) -> dict[str, Arg]:
    """Every argument ``spider`` takes (its own and ``base_url``)."""
    return {**COMMON, **SPIDER_ARGS.get(spider, {})}


def required(spider: str) -> tuple[str, ...]:
    """The arguments ``spider`` cannot run without."""
    return tuple(name for name, arg in arguments(spider).items() if arg.required)
