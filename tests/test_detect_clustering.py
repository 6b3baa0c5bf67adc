"""The online clustering alone (alerts.clustering.ClusterSet): joining, new clusters, merging, dropping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.clustering import Cluster, ClusterSet, PostRow, unit
from alerts.detect import Params
from alerts.policy import MERGED

DIM = 32
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _pair(seed: int, cos: float) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors whose cosine is exactly ``cos``."""
    rng = np.random.default_rng(seed)
    a = unit(rng.normal(size=DIM)).astype(np.float64)
    o = rng.normal(size=DIM)
    o = o - (o @ a) * a
    o = o / np.linalg.norm(o)
    return a, cos * a + np.sqrt(1 - cos * cos) * o


def _post(pid: int, vector: np.ndarray, hours: int = 0, version: str | None = None) -> PostRow:
    return PostRow(id=pid, created_at=T0 + timedelta(hours=hours), embedding=vector.astype(np.float32), unmet=True,
                   need_type="problem", text=f"post {pid}", version=version)


def _set(clusters: list[Cluster] | None = None, keep_texts: int = 0) -> ClusterSet:
    p = Params()
    return ClusterSet(clusters or [], join_similarity=p.join_similarity, merge_similarity=p.merge_similarity,
                      min_count=p.min_count, keep_texts=keep_texts)


def test_two_similar_posts_join_and_a_dissimilar_one_starts_a_new_cluster() -> None:
    a, near = _pair(1, 0.9)
    _, far = _pair(2, 0.1)
    issues = _set(keep_texts=5)
    issues.add([_post(1, a, 0, "1.0"), _post(2, near, 30, "1.1")])
    issues.add([_post(3, far, 50)])
    assert sorted((k, c.size) for k, c in issues.live.items()) == [(-2, 1), (-1, 2)]
    first = issues.live[-1]
    assert [pid for pid, _ in first.added] == [1, 2] and first.added[1][1] == pytest.approx(0.9, abs=1e-3)
    assert first.daily == {"2026-03-02": 1, "2026-03-03": 1} and first.versions == {"1.0": 1, "1.1": 1}
    assert first.first_seen == T0 and first.last_seen == T0 + timedelta(hours=30) and first.last_version == "1.1"
    assert first.need_types == {"problem": 2} and [m.id for m in first.members] == [1, 2]
    np.testing.assert_allclose(first.centroid, (a + near.astype(np.float32)) / 2, atol=1e-6)
    assert issues.dim == DIM


def test_a_burst_arriving_in_one_batch_ends_up_in_one_cluster() -> None:
    rng = np.random.default_rng(5)
    topic = unit(rng.normal(size=DIM))
    issues = _set()
    issues.add([_post(i, unit(topic + 0.08 * rng.normal(size=DIM)), i) for i in range(8)])
    assert [c.size for c in issues.live.values()] == [8]


def test_an_embedding_of_another_size_is_refused() -> None:
    a, _ = _pair(3, 0.0)
    issues = _set()
    issues.add([_post(1, a)])
    with pytest.raises(ValueError, match="embedding size 16 differs"):
        issues.add([_post(2, a[:16])])


def test_clusters_that_drift_together_merge_into_the_one_first_seen() -> None:
    a, b = _pair(4, 0.5)  # below join_similarity: two clusters at first
    issues = _set(keep_texts=50)
    issues.add([_post(i, a, i) for i in range(1, 4)])
    issues.add([_post(i, b, 10 + i) for i in range(4, 7)])
    assert len(issues.live) == 2 and issues.merge_drifted() == []
    between = unit(a + b)  # nearer neither centroid than the join cut: joins the first, pulling it towards b
    issues.add([_post(i, between, 20 + i) for i in range(7, 27)])
    assert issues.merge_drifted() == [(-2, -1)]
    assert list(issues.live) == [-1] and issues.merged == [(-2, -1)]
    survivor, gone = issues.live[-1], issues.folded[-2]
    assert survivor.size == 26 and len(survivor.members) == 26 and len(survivor.added) == 26
    assert gone.state == MERGED and gone.merged_into == -1 and survivor.first_seen == T0 + timedelta(hours=1)
    assert issues.merge_drifted() == []  # nothing left to merge with
    issues.add([_post(99, b, 60)])  # the merged-away cluster's topic now lands in the survivor
    assert list(issues.live) == [-1] and issues.live[-1].size == 27


def test_a_stored_issue_survives_a_merge_with_a_newer_one_and_dropping_lists_it() -> None:
    a, b = _pair(6, 0.5)
    stored = Cluster(key=7, total=3 * b, size=3, state="ongoing", first_seen=T0 + timedelta(days=3))
    gone = Cluster(key=8, total=3 * a, size=3, state=MERGED, merged_into=7)
    issues = _set([stored, gone])
    assert list(issues.live) == [7] and issues.dim == DIM  # merged-away issues are not loaded
    issues.add([_post(i, a, i) for i in range(1, 4)])  # first seen before the stored issue
    issues.add([_post(i, unit(a + b), 10 + i) for i in range(4, 24)])
    assert issues.merge_drifted() == [(-1, 7)]  # a stored issue keeps its id
    assert issues.live[7].state == "ongoing" and issues.live[7].first_seen == T0 + timedelta(hours=1)
    issues.drop(issues.live[7])
    assert issues.live == {} and issues.removed == [7]
    issues.add([_post(50, b, 40)])
    assert list(issues.live) == [-2]  # a dropped cluster never takes posts again
    issues.drop(issues.live[-2])
    assert issues.removed == [7]  # never stored: nothing for the store to remove
