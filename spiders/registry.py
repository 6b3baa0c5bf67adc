"""The spiders voxpop has, in one place: Scrapy's own ``SpiderLoader`` over ``SPIDER_MODULES``.

Everything that needs the list (the crawl runner's callers, the community ``also`` argument, the
config check in tests) asks here instead of keeping its own tuple.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from spiders import settings as crawl_settings


@lru_cache(maxsize=1)
def spider_classes() -> dict[str, type[Any]]:
    """Spider name -> class, as ``scrapy list`` finds them."""
    from scrapy.settings import Settings
    from scrapy.spiderloader import SpiderLoader

    loader = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": crawl_settings.SPIDER_MODULES}))
    return {name: loader.load(name) for name in sorted(loader.list())}


def spider_names() -> tuple[str, ...]:
    """Every spider name, sorted."""
    return tuple(spider_classes())


def community_spiders() -> frozenset[str]:
    """The spiders of community sources (they take the ``also`` argument: other products' names)."""
    from spiders.community import CommunitySpider

    return frozenset(name for name, cls in spider_classes().items() if issubclass(cls, CommunitySpider))
