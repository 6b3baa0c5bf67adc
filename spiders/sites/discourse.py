"""Any Discourse forum: newest topics (or one category, or a search), then each topic's posts.

``scrapy crawl discourse -a product=SLUG -a base_url=https://forum.example [-a category=SLUG]
[-a query=WORDS] [-a max_topics=500]``

Topic lists come newest-bumped first, so an incremental crawl stops at the first topic bumped
before the high-water mark (pinned topics excepted). ``Retry-After`` on 429 is honoured by the
retry middleware.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode

import scrapy
from scrapy.http import Response

from spiders.base import VoxpopSpider
from spiders.pages.discourse import (
    POSTS_CHUNK,
    TopicRef,
    absolute,
    parse_search,
    parse_topic,
    parse_topic_list,
    parse_topic_posts,
    posts_url,
)

DEFAULT_MAX_TOPICS = 500
DEFAULT_MAX_LIST_PAGES = 50
DEFAULT_MAX_SEARCH_PAGES = 10


class DiscourseSpider(VoxpopSpider):
    """Crawl a Discourse forum's topics and their posts."""

    name = "discourse"
    required_args = ("base_url",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category = (self.params.get("category") or "").strip("/")
        self.query = self.params.get("query") or ""
        self.max_topics = int(self.params.get("max_topics") or DEFAULT_MAX_TOPICS)
        self.max_list_pages = int(self.params.get("max_list_pages") or DEFAULT_MAX_LIST_PAGES)
        self.max_search_pages = int(self.params.get("max_search_pages") or DEFAULT_MAX_SEARCH_PAGES)
        self.topics_requested: set[int] = set()
        if self.query:
            self.found_by = f"search:{self.query}"
        elif self.category:
            self.found_by = f"category:{self.category}"
        else:
            self.found_by = "latest"

    def first_requests(self) -> Iterable[scrapy.Request]:
        if self.query:
            yield self.search_request(1)
        elif self.category:
            yield self.request(f"{self.base_url}/c/{quote(self.category)}.json", self.parse_list,
                               cb_kwargs={"page": 1})
        else:
            yield self.request(f"{self.base_url}/latest.json", self.parse_list, cb_kwargs={"page": 1})

    def search_request(self, page: int) -> scrapy.Request:
        """One page of search results."""
        query = urlencode({"q": self.query, "page": page})
        return self.request(f"{self.base_url}/search.json?{query}", self.parse_search, cb_kwargs={"page": page})

    def topic_request(self, topic: TopicRef) -> scrapy.Request | None:
        """The request of a topic's posts, unless already asked for or over ``max_topics``."""
        if topic.id in self.topics_requested:
            return None
        if len(self.topics_requested) >= self.max_topics:
            self.cap_hit(f"discourse max_topics={self.max_topics} reached")
            return None
        self.topics_requested.add(topic.id)
        return self.request(f"{self.base_url}/t/{topic.id}.json", self.parse_topic)

    def parse_list(self, response: Response, page: int) -> Iterable[Any]:
        """Follow the topics bumped since the cutoff, then the next list page."""
        listing, retry = self.parse_or_retry(response, parse_topic_list)
        if listing is None:
            if retry is not None:
                yield retry
            return
        reached_old = False
        for topic in listing.topics:
            if self.is_old(topic.bumped_at):
                reached_old = reached_old or not topic.pinned
                continue
            self.mark_seen(topic.bumped_at)
            request = self.topic_request(topic)
            if request is not None:
                yield request
        if reached_old or not listing.more_url or not listing.topics:
            self.mark_complete()
            return
        if page >= self.max_list_pages:
            self.cap_hit(f"discourse max_list_pages={self.max_list_pages} reached")
            self.mark_complete()
            return
        yield self.request(absolute(self.base_url, listing.more_url), self.parse_list, cb_kwargs={"page": page + 1})

    def parse_search(self, response: Response, page: int) -> Iterable[Any]:
        """Follow the topics a search found, then its next page while there are more."""
        try:
            listing, more = parse_search(response.body)
        except ValueError as exc:
            retry = self.retry_malformed(response, exc)
            if retry is not None:
                yield retry
            return
        self.count_page()
        for topic in listing.topics:
            if topic.bumped_at is not None and self.is_old(topic.bumped_at):
                continue
            self.mark_seen(topic.bumped_at)
            request = self.topic_request(topic)
            if request is not None:
                yield request
        if more and listing.topics:
            if page >= self.max_search_pages:
                self.cap_hit(f"discourse search stops at {self.max_search_pages} pages")
            else:
                yield self.search_request(page + 1)
                return
        self.mark_complete()

    def _emit(self, posts: list[dict[str, Any]]) -> Iterable[Any]:
        for post in posts:
            if self.before_since(post["created_at"]):
                continue
            yield self.post(**post)

    def parse_topic(self, response: Response) -> Iterable[Any]:
        """Yield a topic's posts and ask for the ones the first answer did not carry."""
        topic, retry = self.parse_or_retry(response, parse_topic, self.base_url, self.found_by)
        if topic is None:
            if retry is not None:
                yield retry
            return
        yield from self._emit(topic.posts)
        topic_id = int(response.url.rstrip("/").rsplit("/", 1)[-1].split(".")[0])
        for start in range(0, len(topic.missing_ids), POSTS_CHUNK):
            chunk = topic.missing_ids[start:start + POSTS_CHUNK]
            yield self.request(posts_url(self.base_url, topic_id, chunk), self.parse_more_posts,
                               cb_kwargs={"topic_id": topic_id, "slug": topic.slug, "title": topic.title})

    def parse_more_posts(self, response: Response, topic_id: int, slug: str, title: str) -> Iterable[Any]:
        """Yield the extra posts of a long topic."""
        posts, retry = self.parse_or_retry(response, parse_topic_posts, self.base_url, topic_id, slug, title,
                                           self.found_by)
        if posts is None:
            if retry is not None:
                yield retry
            return
        yield from self._emit(posts)

    def next_high_water(self) -> dict[str, Any]:
        """Advance the mark only when every topic was fetched: a failed topic is retried next time."""
        if self.error_count or self.malformed_given_up:
            return dict(self.high_water)
        return super().next_high_water()
