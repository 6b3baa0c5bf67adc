"""The release watch: what each release changed in what customers say, ranked, with no gate.

Alerts (``alerts.detect``) are false-discovery controlled and rare: they wake a team only for a real
emergence. The release watch answers a different question after every release: *what is new or worse
in version v?* For each release with enough posts it ranks the topics (issues and candidate issues,
the same clusters alerts come from) of its unmet-need posts by how much their share of the release's
posts grew against the releases before it, and keeps the top few. A standing complaint whose share did
not grow is not news and is left out however big it is; a topic never seen before ranks by its size.

There is no false-discovery control here and every output says so (:data:`NOT_AN_ALARM`).

Releases: the product's versions in the order they first appeared. Small releases (apps that ship every
few days, or sparse streams with a handful of posts a release) are pooled with the releases after them
until the pool holds ``min_posts`` posts; the pool is named by its newest release. Its baseline is the
releases just before the pool, reaching back until it holds ``baseline_worth`` x ``min_posts`` posts (at
most ``max_baseline`` releases); with fewer than ``min_posts`` posts before it a release is not watched
(nothing to compare with).

Score: the log-likelihood ratio of the topic's share in the release against its (smoothed) share in the
baseline, counted only when the share grew by ``min_lift`` or more: large when a topic is both new and
frequent, near zero for one that kept its share.

Everything here is pure over plain inputs (version sizes, per-topic counts per version); the store side
(``alerts.release_store``) and the replay (``alerts.detect.replay``) feed it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

RELEASE_WATCH_KIND = "release_watch"
NOT_AN_ALARM = "a ranked account, not an alarm: no false-discovery control"
PSEUDO_COUNT = 0.5


@dataclass(frozen=True)
class WatchSpec:
    """Release-watch settings (``[alerts] release_watch_*``)."""

    min_posts: int = 10  # posts a release (or a pool of small releases) needs before it is watched
    top: int = 3  # topics kept per release
    min_count: int = 2  # a topic's posts in the release before it can rank ...
    single_below: int = 40  # ... except in a release (pool) of fewer posts, where one post may stand alone
    typical_share: float = 0.25  # a release waits for this share of the median size of the releases before it
    typical_of: int = 5  # how many releases before it that median looks at
    max_wait: int = 200  # never waits for more posts than this
    min_lift: float = 1.5  # a topic's share must have grown at least this much against the baseline
    baseline_worth: int = 3  # the baseline reaches back until it holds this many x min_posts posts
    max_baseline: int = 12  # furthest back a baseline reaches (releases)
    max_pooled: int = 8  # most small releases pooled into one watch
    similarity: float = 0.55  # cosine at which a post belongs to a release topic (as ``join_similarity``)

    @classmethod
    def from_spec(cls, spec: Any) -> WatchSpec:
        """Build from an ``AlertSpec`` (``release_watch_min_posts``, ``release_watch_top``)."""
        return cls(min_posts=int(getattr(spec, "release_watch_min_posts", cls.min_posts)),
                   top=int(getattr(spec, "release_watch_top", cls.top)))


@dataclass(frozen=True)
class Release:
    """One watched release: the pooled releases (oldest first, ending with ``version``) and its baseline."""

    version: str
    pooled: tuple[str, ...]
    earlier: tuple[str, ...]
    posts: int
    baseline_posts: int


@dataclass(frozen=True)
class Topic:
    """What the ranking needs of one topic: a key and its unmet-need posts per version."""

    key: int
    versions: Mapping[str, int]
    extra: Mapping[str, Any] = field(default_factory=dict)  # carried through untouched (label, quotes, ...)


@dataclass(frozen=True)
class Ranked:
    """A topic of a release's watch with its figures."""

    topic: Topic
    rank: int
    score: float
    count: int
    total: int
    baseline_count: int
    baseline_total: int

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0

    @property
    def baseline_share(self) -> float:
        return _smoothed(self.baseline_count, self.baseline_total)

    @property
    def new(self) -> bool:
        """Never seen in the baseline releases."""
        return self.baseline_count == 0

    def figures(self) -> dict[str, Any]:
        """JSON-able figures: counts as "x of n" plus the baseline's smoothed share as "expected"."""
        return {"score": round(self.score, 3), "rank": self.rank, "count": self.count, "total": self.total,
                "share": round(self.share, 4), "baseline_count": self.baseline_count,
                "baseline_total": self.baseline_total, "expected_share": round(self.baseline_share, 4),
                "lift": round(self.share / self.baseline_share, 2) if self.baseline_share else None,
                "new": self.new}


def _smoothed(x: int, n: int) -> float:
    return (x + PSEUDO_COUNT) / (n + 1.0)


def _baseline(before: Sequence[str], sizes: Mapping[str, int], spec: WatchSpec) -> tuple[str, ...]:
    earlier: list[str] = []
    for v in reversed(before):
        if len(earlier) >= spec.max_baseline or sum(sizes.get(e, 0) for e in earlier) >= (
                spec.baseline_worth * spec.min_posts):
            break
        earlier.insert(0, v)
    return tuple(earlier)


def enough(before: Sequence[str], sizes: Mapping[str, int], spec: WatchSpec) -> int:
    """Posts a release needs before it is watched: ``spec.min_posts``, or, where the releases before it
    were bigger, ``spec.typical_share`` of their median size (at most ``spec.max_wait``), so a dense
    stream's watch reads a release's first days rather than its first hour and a sparse one's still
    comes after a handful of posts."""
    prior = sorted(sizes.get(v, 0) for v in before[-spec.typical_of:])
    typical = prior[len(prior) // 2] if prior else 0
    return max(spec.min_posts, min(spec.max_wait, int(spec.typical_share * typical)))


def plan(order: Sequence[str], sizes: Mapping[str, int], spec: WatchSpec, *, made: Iterable[str] = ()) -> list[Release]:
    """The releases that are watched, given the release order and each release's posts so far.

    Walks the order oldest first, pooling small releases until a pool holds :func:`enough` posts.
    ``made``: releases already watched (a replay's earlier days); pooling restarts after the newest of
    them, so a release is never watched twice and each post is watched with one pool only. A release
    with fewer than ``spec.min_posts`` posts before its pool is skipped (its pool is not watched).
    """
    done = set(made)
    start = max((i + 1 for i, v in enumerate(order) if v in done), default=0)
    out: list[Release] = []
    pool: list[str] = []
    for i in range(start, len(order)):
        v = order[i]
        pool.append(v)
        if len(pool) > spec.max_pooled:
            pool.pop(0)
        posts = sum(sizes.get(p, 0) for p in pool)
        first = i - len(pool) + 1
        if posts < enough(order[:first], sizes, spec):
            continue
        earlier = _baseline(order[:first], sizes, spec)
        base = sum(sizes.get(e, 0) for e in earlier)
        if base >= spec.min_posts:
            out.append(Release(version=v, pooled=tuple(pool), earlier=earlier, posts=posts, baseline_posts=base))
        pool = []
    return out


def rank(release: Release, topics: Iterable[Topic], spec: WatchSpec) -> list[Ranked]:
    """The release's topics that are new or grew against its baseline, strongest first, at most ``spec.top``.

    A topic ranks when it has ``spec.min_count`` posts in the release (one in a release of fewer than
    ``spec.single_below`` posts, where each post is its own account) and its share grew at least
    ``spec.min_lift`` times over its smoothed baseline share; its score is the log-likelihood ratio of
    the two shares (ties: more posts first, then the key).
    """
    n, n0 = release.posts, release.baseline_posts
    need = spec.min_count if n >= spec.single_below else 1
    found: list[tuple[float, int, Topic, int, int]] = []
    for topic in topics:
        x = sum(int(topic.versions.get(v, 0)) for v in release.pooled)
        if x < need or n <= 0:
            continue
        x0 = sum(int(topic.versions.get(v, 0)) for v in release.earlier)
        p, p0 = min(x, n) / n, _smoothed(x0, n0)
        if p < spec.min_lift * p0:
            continue
        found.append((_llr(min(x, n), n, p0), x, topic, x0, n0))
    found.sort(key=lambda f: (-f[0], -f[1], f[2].key))
    return [Ranked(topic=t, rank=i + 1, score=s, count=x, total=n, baseline_count=x0, baseline_total=b)
            for i, (s, x, t, x0, b) in enumerate(found[: spec.top])]


def rank_kept(release: Release, topics: Sequence[Topic], spec: WatchSpec,
              left_out: Callable[[Ranked], bool]) -> tuple[list[Ranked], list[Ranked]]:
    """:func:`rank` where a topic people decided against (``left_out``: a muted issue's) gives its place
    to the next one: the kept topics (ranks renumbered from 1, at most ``spec.top``) and the left-out
    ones that ranked above the last kept."""
    kept: list[Ranked] = []
    dropped: list[Ranked] = []
    for ranked in rank(release, topics, replace(spec, top=max(spec.top, len(topics)))):
        if len(kept) >= spec.top:
            break
        if left_out(ranked):
            dropped.append(ranked)
        else:
            kept.append(replace(ranked, rank=len(kept) + 1))
    return kept, dropped


def holder(post_ids: Sequence[int], membership: Mapping[int, int]) -> int | None:
    """The issue a topic stands for: the one holding at least half of its posts (``membership``: post
    id -> issue), else None."""
    votes = Counter(membership[p] for p in post_ids if p in membership).most_common(1)
    return votes[0][0] if votes and votes[0][1] * 2 >= len(post_ids) else None


def dominant(need_types: Mapping[str, int]) -> str | None:
    """The need type most of a topic's posts have (ties by name)."""
    return min(need_types, key=lambda k: (-need_types[k], k)) if need_types else None


@dataclass(frozen=True)
class WatchPost:
    """What the watch needs of one unmet-need post: its release, unit embedding and sentence."""

    id: int
    version: str
    embedding: np.ndarray
    sentence: str = ""
    need_type: str | None = None
    issue: int | None = None  # the issue it belongs to, where known (links a topic to an issue)


def topics_of(release: Release, posts: Sequence[WatchPost], spec: WatchSpec) -> list[Topic]:
    """The topics of a release's unmet-need posts, with each topic's posts per version.

    The release's own posts are clustered (each joins the most similar topic centroid at
    ``spec.similarity`` or starts one); then every post of the release and of its baseline counts for the
    topic it is most similar to, at ``spec.similarity`` or more. Counting both sides the same way keeps a
    standing complaint's share the same in both, so only growth ranks.
    ``extra`` of each topic holds its ``members`` (indices into ``posts``, most central first).
    """
    pooled, earlier = set(release.pooled), set(release.earlier)
    own = [i for i, p in enumerate(posts) if p.version in pooled]
    if not own:
        return []
    emb = np.stack([posts[i].embedding for i in own]).astype(np.float32)
    sums: list[np.ndarray] = []
    for e in emb:
        if sums:
            cents = np.stack([_unit(c) for c in sums])
            sims = cents @ e
            j = int(sims.argmax())
            if float(sims[j]) >= spec.similarity:
                sums[j] = sums[j] + e
                continue
        sums.append(e.astype(np.float64))
    cents = np.stack([_unit(c) for c in sums])
    scope = [i for i, p in enumerate(posts) if p.version in pooled or p.version in earlier]
    all_emb = np.stack([posts[i].embedding for i in scope]).astype(np.float32)
    sims = all_emb @ cents.T
    best = sims.argmax(axis=1)
    counts: list[dict[str, int]] = [{} for _ in sums]
    members: list[list[tuple[float, int]]] = [[] for _ in sums]
    for row, i in enumerate(scope):
        j = int(best[row])
        if float(sims[row, j]) < spec.similarity:
            continue
        v = posts[i].version
        counts[j][v] = counts[j].get(v, 0) + 1
        if v in pooled:
            members[j].append((-float(sims[row, j]), i))
    return [Topic(key=j, versions=counts[j], extra={"members": [i for _, i in sorted(members[j])],
                                                    "centroid": cents[j]})
            for j in range(len(sums)) if counts[j]]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def _llr(x: int, n: int, p0: float) -> float:
    """Log-likelihood ratio of share x/n against p0 (nats)."""
    p = x / n
    out = x * math.log(p / p0) if x else 0.0
    if x < n:
        out += (n - x) * math.log((1 - p) / (1 - p0))
    return out


def entry(release: Release, ranked: Ranked, *, label: str, keywords: Sequence[str], quotes: Sequence[Any] = (),
          day: str | None = None, issue: int | None = None, need_type: str | None = None) -> dict[str, Any]:
    """One release-watch entry as ``voxpop backtest --json`` and ``voxpop releases --json`` give it."""
    out: dict[str, Any] = {"kind": RELEASE_WATCH_KIND, "version": release.version,
                           "with_versions": list(release.pooled[:-1]), "baseline_versions": list(release.earlier),
                           "label": label, "keywords": list(keywords)[:10], "need_type": need_type,
                           "figures": ranked.figures(),
                           "quotes": list(quotes), "gate": "none", "note": NOT_AN_ALARM}
    if day is not None:
        out["day"] = day
    if issue is not None:  # the issue most of the topic's posts belong to, where known
        out["issue"] = issue
    return out


def as_text(watch: Mapping[str, Any]) -> str:
    """A release watch (``alerts.release_store.release_watch``) as plain text, newest release first."""
    lines = [f"Release watch for {watch.get('name') or watch['product']} as of {str(watch['as_of'])[:10]} "
             f"({watch['note']})"]
    if not watch["releases"]:
        lines.append(f"  no release has {watch['min_posts']} posts yet")
    for rel in watch["releases"]:
        pooled = f" (with {', '.join(rel['with_versions'])})" if rel["with_versions"] else ""
        lines.append(f"Since version {rel['version']}{pooled}: {rel['posts']} posts, against "
                     f"{', '.join(rel['baseline_versions'])} ({rel['baseline_posts']} posts)")
        if not rel["topics"]:
            lines.append("  nothing new or grown")
        for t in rel["topics"]:
            f = t["figures"]
            was = "new" if f["new"] else f"expected {f['expected_share']:.1%}"
            lines.append(f"  {f['rank']}. {t['label']}: {f['count']} of {f['total']} posts ({was}; score "
                         f"{f['score']:.1f}); keywords: {', '.join(t['keywords'][:6])}")
            for q in t["quotes"][:1]:
                lines.append(f"     \"{q}\"")
        for m in rel.get("muted_topics") or []:  # curation: a muted issue's topic gave its place to the next
            lines.append(f"  left out: {m['count']} posts of muted issue #{m['issue']} ({m['issue_label']})")
    return "\n".join(lines)


# ---------------------------------------------------------------- replay (backtest, bench)

QUOTES = 2


class ReplayWatch:
    """The release watch as a day-by-day replay makes it: on each day, the releases that reached enough
    posts that day, ranked from the unmet-need posts seen up to the end of it.

    Args:
        spec: thresholds.
        labeller: ``(cluster-like, background) -> (label, keywords)`` (``alerts.labels.label_cluster``
            with its encoder); it sees an object with ``members`` (PostRow-like) and ``centroid``.
        emit_from: releases completed before this day are marked watched silently (no entries).
        muted: ``(member post ids, day) -> bool``: whether the topic stands for an issue people muted
            (``alerts.curated.BacktestCuration.mutes``); such a topic gives its place to the next one.
    """

    def __init__(self, spec: WatchSpec, labeller: Any, emit_from: date,
                 muted: Callable[[Sequence[int], date], bool] | None = None) -> None:
        self.spec = spec
        self.labeller = labeller
        self.emit_from = emit_from
        self.muted = muted
        self.made: set[str] = set()
        self.posts: list[WatchPost] = []
        self.rows: list[Any] = []

    def add(self, posts: Iterable[Any]) -> None:
        """Keep the unmet-need posts (PostRow-like: version, embedding, need type, sentence)."""
        from alerts.policy import may_seed

        for p in posts:
            if p.version and p.embedding is not None and p.embedding.size and may_seed(p.need_type, p.sentence,
                                                                                        p.unmet):
                self.posts.append(WatchPost(id=p.id, version=p.version, embedding=_unit(np.asarray(p.embedding)),
                                            sentence=p.sentence, need_type=p.need_type))
                self.rows.append(p)

    def day(self, detector: Any, day: date, background: Sequence[str]) -> list[dict[str, Any]]:
        """Entries made on ``day`` (each with ``kind`` = :data:`RELEASE_WATCH_KIND`), best first per release;
        each names the detector's issue (cluster key) that holds at least half its posts, where one does."""
        versions = detector.product_state.get("versions") or {}
        order = detector.release_order()
        sizes = {v: int(versions[v][1]) for v in order}
        out: list[dict[str, Any]] = []
        membership: dict[int, int] | None = None
        for release in plan(order, sizes, self.spec, made=self.made):
            self.made.update(release.pooled)
            if day < self.emit_from:
                continue
            if membership is None:  # post id -> the detector's issue key, to link each topic to its issue
                membership = {pid: key for key, c in detector.clusters.items() for pid, _ in c.added}
            def left_out(ranked: Ranked) -> bool:
                ids = [self.rows[i].id for i in ranked.topic.extra["members"]]
                return self.muted is not None and self.muted(ids, day)

            kept, _ = rank_kept(release, topics_of(release, self.posts, self.spec), self.spec, left_out)
            for ranked in kept:
                members = [self.rows[i] for i in ranked.topic.extra["members"]]
                needs: dict[str, int] = {}
                for m in members:
                    if m.need_type:
                        needs[m.need_type] = needs.get(m.need_type, 0) + 1
                view = TopicView(members=members[:200], centroid=ranked.topic.extra["centroid"], need_types=needs)
                label, keywords = self.labeller(view, background) if self.labeller else ("", [])
                quotes = [m.sentence for m in members[:QUOTES]]
                issue = holder([m.id for m in members], membership)
                out.append(entry(release, ranked, label=label, keywords=keywords, quotes=quotes,
                                 day=day.isoformat(), issue=issue, need_type=dominant(needs)))
        return out


@dataclass
class TopicView:
    """The part of a cluster a labeller reads."""

    members: list[Any]
    centroid: np.ndarray
    need_types: dict[str, int] = field(default_factory=dict)
