"""The release watch over the store: `voxpop releases`, the report's and digest's "Since version v" and
the dashboard's ``/releases`` read it here (the ranking itself is ``alerts.release_watch``, pure).

Reads only. Every release of the product with enough posts is watched with all its posts so far; a
topic links to the issue most of its posts belong to, where there is one.

Curation holds here as in detection: posts people took out of issues (``post_exclusions``: not an
issue, or split off too small to be one) are no topic's posts (they still count among the release's
posts); a topic linked to an issue muted on the watch's day is left out of the ranking, the next topic
takes its place, and the release lists it under ``muted_topics`` (issue, label, posts), so nothing is
hidden without a word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from alerts.curated import keep_out
from alerts.issues import _job_error, _phrase_encoder, _post_query, _rows, _utc, get_product_row
from alerts.labels import label_cluster, name_words
from alerts.release_watch import (
    NOT_AN_ALARM,
    Ranked,
    Release,
    ReplayWatch,
    TopicView,
    WatchSpec,
    dominant,
    entry,
    holder,
    plan,
    rank_kept,
    topics_of,
)
from store import rollups
from store.curation import CurationState, excluded_posts, load_curation
from store.db import Store
from store.models import Issue, IssuePost, Post, PostProduct
from voxpop.config import Config

QUOTES = 2
BACKGROUND = 1000  # the newest posts whose words are ordinary (a topic label's words must stand out)


def _order(session: Session, posts: Select[Any], product_id: int, now: datetime) -> tuple[list[str], dict[str, int]]:
    """Releases in the order they first appeared and each one's posts. Whole days come from the rollups
    (``store.rollups.version_days``), the part of today up to ``now`` from the posts: no post is read for the
    past, so a product with years of posts and no watched release costs little. Releases first seen on the
    same day are ordered by name."""
    cut = datetime(now.year, now.month, now.day, tzinfo=UTC)
    first: dict[str, datetime] = {}
    sizes: Counter[str] = Counter()
    for version, (day, n) in rollups.version_days(session, product_id, cut.date()).items():
        first[version], sizes[version] = datetime(day.year, day.month, day.day, tzinfo=UTC), n
    today = (posts.where(Post.created_at >= cut)
             .with_only_columns(Post.version, func.min(Post.created_at), func.count(), maintain_column_froms=True)
             .where(Post.version.is_not(None), Post.version != "").group_by(Post.version))
    for version, at, n in session.execute(today):
        first.setdefault(version, _utc(at))
        sizes[version] += int(n)
    return sorted(first, key=lambda v: (first[v], v)), dict(sizes)


def release_watch(store: Store, config: Config | None, product_slug: str, *, version: str | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """The release watch of a product: each watched release (newest first) with its top topics.

    Args:
        version: only the release named so (or the pool holding it); an unknown version is an error.
    Returns:
        ``{"product", "as_of", "note", "min_posts", "releases": [{"version", "with_versions",
        "baseline_versions", "posts", "baseline_posts", "topics": [entry, ...]}, ...]}``; a release
        without enough posts is not listed (``unwatched`` names the newest such releases).
    """
    spec = WatchSpec.from_spec(getattr(config, "alerts", None))
    now = now or datetime.now(UTC)
    with store.sessions() as session:
        product = get_product_row(session, product_slug)
        query = _post_query(product.id).where(Post.created_at <= now)
        # Every post counts in its release's size, taken out of issues or not.
        order, sizes = _order(session, query, product.id, now)
        releases = plan(order, sizes, spec)
        if version is not None:
            releases = [r for r in releases if version in r.pooled]
        # Only the posts of the watched releases and their baselines are ranked; the newest posts of any
        # version are the labels' background.
        needed = sorted({v for r in releases for v in (*r.pooled, *r.earlier)})
        posts = _rows(session.execute(query.where(Post.version.in_(needed)))) if needed else []
        newest = (_rows(session.execute(query.order_by(Post.created_at.desc(), Post.id.desc()).limit(BACKGROUND)))
                  if needed else [])
        members: dict[int, int] = {r[0]: r[1] for r in session.execute(
            select(IssuePost.post_id, IssuePost.issue_id).join(Issue, Issue.id == IssuePost.issue_id)
            .join(PostProduct, PostProduct.post_id == IssuePost.post_id)
            .where(Issue.product_id == product.id, PostProduct.product_id == product.id))}
        rows = session.scalars(select(Issue).where(Issue.product_id == product.id))
        issues = {i.id: (i.label, i.state) for i in rows}
        curation = load_curation(session, product.id)
        excluded = excluded_posts(session, product.id)
        name = product.name
        session.rollback()
    posts = keep_out(posts, excluded)  # a post people took out of issues is no topic's post
    if version is not None and version not in sizes:
        known = ", ".join(order[-5:]) or "none"
        raise _job_error(f"releases: {product_slug} has no posts of version {version} (latest: {known})")
    watcher = ReplayWatch(spec, None, now.date())
    watcher.add(posts)
    # The encoder (seconds to load) only labels topics: without a watched release nothing needs it.
    embed = _phrase_encoder(config) if releases else None  # type: ignore[arg-type]  # reads config.classify
    if embed is not None and posts and posts[0].embedding is not None and posts[0].embedding.shape[0] != embed.dim:
        embed = None
    words = name_words(name)
    background = [p.text for p in newest if p.text]
    out = []
    for release in reversed(releases):
        out.append(_release_entry(release, watcher, spec, background, embed, words, members, issues,
                                  Curated(curation, now)))
    watched = {v for r in releases for v in r.pooled}
    unwatched = [v for v in order if v not in watched][-3:]
    return {"product": product_slug, "name": name, "as_of": now.isoformat(timespec="seconds"), "note": NOT_AN_ALARM,
            "min_posts": spec.min_posts, "releases": out, "unwatched": unwatched,
            "unwatched_posts": {v: sizes[v] for v in unwatched}}


class Curated:
    """People's decisions as the watch of one day reads them."""

    def __init__(self, state: CurationState, now: datetime) -> None:
        self.state, self.day = state, now.date()

    def issue(self, linked: int | None) -> int | None:
        """The issue holding a linked issue's posts now (after merges)."""
        return None if linked is None else self.state.survivor(linked)

    def muted(self, issue: int | None) -> bool:
        return self.state.silenced(issue, self.day)


def _release_entry(release: Release, watcher: ReplayWatch, spec: WatchSpec, background: Sequence[str], embed: Any,
                   words: Any, members: dict[int, int], issues: dict[int, tuple[str, str]],
                   curated: Curated | None = None) -> dict[str, Any]:
    topics: list[dict[str, Any]] = []
    links: dict[int, int | None] = {}

    def link(ranked: Ranked) -> int | None:  # the issue most of the topic's posts belong to (after merges)
        if ranked.topic.key not in links:
            found = holder([watcher.rows[i].id for i in ranked.topic.extra["members"]], members)
            links[ranked.topic.key] = curated.issue(found) if curated is not None else found
        return links[ranked.topic.key]

    def left_out(ranked: Ranked) -> bool:
        return curated is not None and curated.muted(link(ranked))

    kept, dropped = rank_kept(release, topics_of(release, watcher.posts, spec), spec, left_out)
    muted = [{"issue": link(r), "issue_label": issues.get(link(r) or 0, ("", ""))[0], "count": r.count}
             for r in dropped]
    for ranked in kept:
        rows = [watcher.rows[i] for i in ranked.topic.extra["members"]]
        issue = link(ranked)
        needs = Counter(r.need_type for r in rows if r.need_type)
        view = TopicView(members=list(rows)[:200], centroid=ranked.topic.extra["centroid"], need_types=dict(needs))
        label, keywords = label_cluster(view, background, embed, words)
        item = entry(release, ranked, label=label, keywords=keywords,
                     quotes=[r.sentence for r in rows[:QUOTES]], issue=issue, need_type=dominant(needs))
        if issue is not None:
            item["issue_label"], item["issue_state"] = issues.get(issue, ("", ""))
        topics.append(item)
    return {"version": release.version, "with_versions": list(release.pooled[:-1]),
            "baseline_versions": list(release.earlier), "posts": release.posts,
            "baseline_posts": release.baseline_posts, "topics": topics, "muted_topics": muted}

