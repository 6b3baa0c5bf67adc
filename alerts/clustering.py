"""Online clustering of unmet-need posts: the issue record and the set that grows, joins and merges them.

A :class:`Cluster` is a running sum of L2-normalised member embeddings (its centroid is the running
mean) plus counts per day, need type and app version. :class:`ClusterSet` owns a product's live
clusters and a matrix of their unit centroids: each post joins its most similar cluster when the
cosine reaches ``join_similarity`` (and the gate lets the cluster take posts), else it starts a new
one; clusters whose centroids drift together merge into the issue people already know. No database,
no clock, no tests of significance: ``alerts.detect`` composes this with the daily and release tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from alerts.policy import MERGED, Gate, OpenGate

EMBED_DIM_UNKNOWN = 0
MERGE_CANDIDATES = 5  # nearest clusters a touched cluster is compared with for a merge
COMPACT_AFTER = 256  # index rows before dropped clusters' empty rows are compacted away


@dataclass(frozen=True, slots=True)
class PostRow:
    """What detection needs of one classified post."""

    id: int
    created_at: datetime
    embedding: np.ndarray | None = None
    unmet: bool = False
    need_type: str | None = None
    rating: float | None = None
    negative: bool = False
    text: str = ""
    version: str | None = None
    evidence: str = ""  # the classifier's evidence sentence (a whole sentence of ``text``)
    url: str | None = None

    @property
    def sentence(self) -> str:
        """The sentence that stands for the post in labels and quotes."""
        return (self.evidence or self.text or "").strip()


@dataclass
class Cluster:
    """An issue or a candidate issue: running sum of member embeddings plus counts per day and version."""

    key: int
    total: np.ndarray  # float64 sum of member embeddings; the centroid is total / size
    size: int = 0
    state: str = "candidate"
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    daily: dict[str, int] = field(default_factory=dict)
    need_types: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    negative: int = 0
    label: str = ""
    keywords: list[str] = field(default_factory=list)
    labelled_size: int = 0
    state_changed_at: datetime | None = None
    last_alert_at: datetime | None = None
    alert_counts: dict[str, int] = field(default_factory=dict)
    version_alerts: list[str] = field(default_factory=list)  # versions this issue was alerted in
    watched: list[str] = field(default_factory=list)  # versions this issue got a watch note in
    last_version: str | None = None  # the app version of the latest member
    merged_into: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    added: list[tuple[int, float]] = field(default_factory=list)  # members added since the last save
    members: list[PostRow] = field(default_factory=list)  # recent members (in-memory labelling only)
    dirty: bool = False

    @property
    def centroid(self) -> np.ndarray:
        """The running mean of the member embeddings."""
        return self.total / max(1, self.size)

    @property
    def label_due(self) -> bool:
        """Whether the label should be (re)computed: first promotion, or the issue doubled since."""
        grown = self.labelled_size == 0 or self.size >= 2 * self.labelled_size
        return self.state not in ("candidate", MERGED) and grown

    def count(self, days: Iterable[str]) -> int:
        """Members created on the given days."""
        return sum(self.daily.get(d, 0) for d in days)

    def size_on(self, day: date) -> int:
        """Members created up to the end of ``day`` (the size an alert about that day reports)."""
        last = day.isoformat()
        return sum(n for d, n in self.daily.items() if d <= last)


def day_key(value: datetime | date) -> str:
    """``YYYY-MM-DD`` of a timestamp or date (timestamps are UTC)."""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1 as float32 (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def seniority(cluster: Cluster) -> tuple[int, str, int]:
    """Sort key of merge survivors: stored issues first, then the one first seen earlier, then the older key."""
    first = cluster.first_seen.isoformat() if cluster.first_seen else "9999"
    return (0 if cluster.key > 0 else 1, first, abs(cluster.key))


class ClusterSet:
    """A product's live clusters, the index of their unit centroids, and joining and merging.

    Args:
        clusters: issues and candidates kept from earlier runs (merged-away ones are left out).
        join_similarity: cosine a post needs with a cluster's centroid to join it.
        merge_similarity: cosine two clusters' centroids need to merge.
        min_count: members each of two clusters needs before they may merge.
        keep_texts: recent members each cluster keeps in memory for labelling (0: none).
        gate: which clusters may take posts (default :class:`OpenGate`).
    """

    def __init__(self, clusters: Iterable[Cluster] = (), *, join_similarity: float, merge_similarity: float,
                 min_count: int, keep_texts: int = 0, gate: Gate | None = None) -> None:
        self.join_similarity = join_similarity
        self.merge_similarity = merge_similarity
        self.min_count = min_count
        self.keep_texts = keep_texts
        self.gate: Gate = gate or OpenGate()
        self.live: dict[int, Cluster] = {}
        self.removed: list[int] = []  # stored issues dropped (expired candidates)
        self.merged: list[tuple[int, int]] = []  # (merged-away key, surviving key), in order
        self.folded: dict[int, Cluster] = {}  # merged-away clusters by key (the store marks them merged)
        self.dim = EMBED_DIM_UNKNOWN
        self._next_key = -1  # clusters not stored yet get negative keys
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._keys: list[int] = []
        self._row: dict[int, int] = {}
        self._touched: set[int] = set()
        for cluster in clusters:
            if cluster.state != MERGED:
                self.live[cluster.key] = cluster
        self._rebuild()

    # -- the index -----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        live = [c for c in self.live.values() if c.size > 0]
        if live:
            self.dim = live[0].total.shape[0]
        cap = max(64, 2 * len(live))
        self._matrix = np.zeros((cap, max(1, self.dim)), dtype=np.float32)
        self._keys, self._row = [], {}
        for c in live:
            self._append(c)

    def _append(self, cluster: Cluster) -> None:
        i = len(self._keys)
        if i >= self._matrix.shape[0]:
            grown = np.zeros((2 * self._matrix.shape[0], self._matrix.shape[1]), dtype=np.float32)
            grown[:i] = self._matrix[:i]
            self._matrix = grown
        self._matrix[i] = unit(cluster.total)
        self._keys.append(cluster.key)
        self._row[cluster.key] = i

    def _new_cluster(self, embedding: np.ndarray) -> Cluster:
        key = self._next_key
        self._next_key -= 1
        cluster = Cluster(key=key, total=np.zeros(embedding.shape[0], dtype=np.float64), dirty=True)
        self.live[key] = cluster
        return cluster

    def _join(self, cluster: Cluster, post: PostRow, embedding: np.ndarray, similarity: float) -> None:
        cluster.total += embedding
        cluster.size += 1
        day = day_key(post.created_at)
        cluster.daily[day] = cluster.daily.get(day, 0) + 1
        if cluster.first_seen is None or post.created_at < cluster.first_seen:
            cluster.first_seen = post.created_at
        if cluster.last_seen is None or post.created_at > cluster.last_seen:
            cluster.last_seen = post.created_at
        if post.need_type:
            cluster.need_types[post.need_type] = cluster.need_types.get(post.need_type, 0) + 1
        if post.version:
            cluster.versions[post.version] = cluster.versions.get(post.version, 0) + 1
            if cluster.last_seen == post.created_at:
                cluster.last_version = post.version
        cluster.negative += int(post.negative)
        cluster.added.append((post.id, round(float(similarity), 4)))
        if self.keep_texts:
            cluster.members.append(post)
            if len(cluster.members) > self.keep_texts:
                del cluster.members[: len(cluster.members) - self.keep_texts]
        cluster.dirty = True
        self._touched.add(cluster.key)
        if cluster.key in self._row:
            self._matrix[self._row[cluster.key]] = unit(cluster.total)
        else:
            self._append(cluster)

    # -- posts in --------------------------------------------------------------------------------

    def add(self, posts: Sequence[PostRow]) -> None:
        """Put each post (all with an embedding, in time order) into its nearest cluster or a new one.

        Posts are compared with the clusters as they stood before this batch in one matrix product,
        then, in order, with the clusters this batch started; so a burst arriving together still ends
        up in one cluster. Raises ``ValueError`` when the embeddings' size differs from the clusters'.
        """
        if not posts:
            return
        emb = np.stack([np.asarray(p.embedding, dtype=np.float32) for p in posts])
        if self.dim == EMBED_DIM_UNKNOWN:
            self.dim = emb.shape[1]
            self._matrix = np.zeros((64, self.dim), dtype=np.float32)
        elif emb.shape[1] != self.dim:
            raise ValueError(f"embedding size {emb.shape[1]} differs from the issues' {self.dim}")
        n_old = len(self._keys)
        if n_old:
            sims = emb @ self._matrix[:n_old].T
            best = sims.argmax(axis=1)
            best_sim = sims[np.arange(len(posts)), best]
        threshold = self.join_similarity
        for i, post in enumerate(posts):
            e = emb[i]
            choice: Cluster | None = None
            score = -1.0
            if n_old:
                score = float(best_sim[i])
                choice = self.live.get(self._keys[int(best[i])])
            if len(self._keys) > n_old:
                fresh = self._matrix[n_old:len(self._keys)] @ e
                j = int(fresh.argmax())
                if float(fresh[j]) > score:
                    score, choice = float(fresh[j]), self.live.get(self._keys[n_old + j])
            if choice is None or score < threshold or not self.gate.may_join(choice):
                choice, score = self._new_cluster(e), 1.0
            self._join(choice, post, e.astype(np.float64), score)

    # -- merging and dropping ----------------------------------------------------------------------

    def merge_drifted(self) -> list[tuple[int, int]]:
        """Merge clusters whose centroids drifted together (cosine >= ``merge_similarity``).

        Only clusters that took posts since the last call are compared (with every live cluster), so
        the cost follows the day's activity. The survivor is the issue people already know: a stored
        one before a new one, then the one first seen earlier. Returns the (merged, survivor) pairs.
        """
        done: list[tuple[int, int]] = []
        touched = [k for k in sorted(self._touched) if k in self.live]
        self._touched.clear()
        n = len(self._keys)
        for key in touched:
            cluster = self.live.get(key)
            if cluster is None or cluster.size < self.min_count or key not in self._row:
                continue
            sims = self._matrix[:n] @ self._matrix[self._row[key]]
            sims[self._row[key]] = -1.0
            for j in np.argsort(-sims, kind="stable")[:MERGE_CANDIDATES]:
                if float(sims[j]) < self.merge_similarity:
                    break
                other = self.live.get(self._keys[int(j)])
                if other is None or other.size < self.min_count or other.key == key:
                    continue
                survivor, gone = sorted((cluster, other), key=seniority)
                self._fold(gone, survivor)
                done.append((gone.key, survivor.key))
                break
        self.merged.extend(done)
        return done

    def _fold(self, gone: Cluster, survivor: Cluster) -> None:
        survivor.total += gone.total
        survivor.size += gone.size
        for d, c in gone.daily.items():
            survivor.daily[d] = survivor.daily.get(d, 0) + c
        for name, c in gone.need_types.items():
            survivor.need_types[name] = survivor.need_types.get(name, 0) + c
        for v, c in gone.versions.items():
            survivor.versions[v] = survivor.versions.get(v, 0) + c
        survivor.negative += gone.negative
        survivor.first_seen = min(x for x in (survivor.first_seen, gone.first_seen) if x) if (
            survivor.first_seen or gone.first_seen) else None
        survivor.last_seen = max(x for x in (survivor.last_seen, gone.last_seen) if x) if (
            survivor.last_seen or gone.last_seen) else None
        if gone.last_alert_at and (survivor.last_alert_at is None or gone.last_alert_at > survivor.last_alert_at):
            survivor.last_alert_at = gone.last_alert_at
        survivor.version_alerts = sorted(set(survivor.version_alerts) | set(gone.version_alerts))
        survivor.watched = sorted(set(survivor.watched) | set(gone.watched))
        if gone.last_seen and survivor.last_seen == gone.last_seen and gone.last_version:
            survivor.last_version = gone.last_version
        if survivor.state == "candidate" and gone.state != "candidate":
            survivor.state, survivor.state_changed_at = gone.state, gone.state_changed_at
        survivor.members = sorted(survivor.members + gone.members, key=lambda m: (m.created_at, m.id))[
            -self.keep_texts:] if self.keep_texts else []
        if gone.key < 0:  # never stored: its members simply become the survivor's
            survivor.added.extend(gone.added)
        survivor.dirty = True
        gone.state, gone.merged_into, gone.dirty = MERGED, survivor.key, True
        del self.live[gone.key]
        row = self._row.pop(gone.key, None)
        if row is not None:
            self._matrix[row] = 0.0
        self._matrix[self._row[survivor.key]] = unit(survivor.total)
        self._touched.add(survivor.key)
        self.folded[gone.key] = gone

    def drop(self, cluster: Cluster) -> None:
        """Forget a cluster (an expired candidate); a stored one is listed in :attr:`removed`."""
        del self.live[cluster.key]
        row = self._row.pop(cluster.key, None)
        if row is not None:
            self._matrix[row] = 0.0  # never the nearest again; compacted on the next rebuild
        if cluster.key > 0:
            self.removed.append(cluster.key)
        if len(self._row) * 2 < len(self._keys) and len(self._keys) > COMPACT_AFTER:
            self._rebuild()
