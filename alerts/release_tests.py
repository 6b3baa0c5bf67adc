"""Release tests: which release is due a test, how much issue shares swing between releases, and one
issue's test of the newest release against the releases before it ("emerged in v").

Pure over plain inputs: ``versions`` maps each app version to ``[first day, posts]`` (the detector's
product state), clusters are ``alerts.detect.Cluster``-like, ``p`` the detector's ``Params``. The
release watch (a ranked account with no gate) is ``alerts.release_watch``; these are the controlled tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from alerts.stats import betabinom_sf

PSEUDO_COUNT = 0.5
MAX_POOLED = 8  # most small releases pooled into one release test
MAX_BASELINE_RELEASES = 12  # furthest back a thin baseline reaches
BASELINE_RELEASES_WORTH = 3  # a baseline should hold this many times version_min_posts posts
DISPERSION_MIN_POSTS = 5  # an issue's posts in the earlier releases before its spread says anything
MAX_DISPERSION = 10.0  # cap on the between-release dispersion (a few wild issues must not mute all tests)


@dataclass(frozen=True)
class ReleaseWindow:
    """What a release test compares: the newest release (pooled with small untested ones just before it)
    against the releases before them."""

    version: str  # the newest release: alerts name it
    pooled: list[str]  # the releases whose posts are tested, oldest first, ending with ``version``
    earlier: list[str]  # the releases they are compared with, oldest first
    posts: int  # the product's posts in the pooled releases


def current_release(versions: Mapping[str, Sequence[Any]], pools: Mapping[str, str], release_order: Sequence[str],
                    p: Any, day: date) -> ReleaseWindow | None:
    """The newest release seen up to ``day``, once it (pooled with the small releases just before it
    that were never tested) has ``version_min_posts`` posts, and the releases it is compared with.

    Apps that ship every few days have releases of a handful of reviews each; pooling them keeps such
    releases from going untested, and each post is tested with one group only. ``pools``: release ->
    the newest release it was tested with.
    """
    order = [v for v in release_order if versions[v][0] <= day.isoformat()]
    if not order:
        return None
    pooled = [order[-1]]
    posts = int(versions[order[-1]][1])
    for v in reversed(order[:-1][-MAX_POOLED:]):
        tested_with = pools.get(v, order[-1])
        if tested_with != order[-1] or int(versions[v][1]) >= p.version_min_posts:
            break
        if posts >= p.version_min_posts and v not in pools:
            break
        pooled.insert(0, v)
        posts += int(versions[v][1])
    if posts < p.version_min_posts:
        return None
    before = order[: len(order) - len(pooled)]
    earlier = before[-p.baseline_versions:]
    # Small releases make a thin baseline: reach further back until it holds a few releases' worth.
    while len(earlier) < min(len(before), MAX_BASELINE_RELEASES) and sum(
            int(versions[v][1]) for v in earlier) < BASELINE_RELEASES_WORTH * p.version_min_posts:
        earlier = before[-(len(earlier) + 1):]
    if len(earlier) < min(2, p.baseline_versions):
        return None  # two earlier releases at least: their spread is what a release's rise is judged by
    return ReleaseWindow(version=order[-1], pooled=pooled, earlier=earlier, posts=posts)


def release_rho(versions: Mapping[str, Sequence[Any]], clusters: Iterable[Any], earlier: Sequence[str]) -> float:
    """Overdispersion of issue shares between releases, as a beta-binomial intra-class correlation.

    Topic shares swing from release to release more than binomial noise (new users, news, an iOS
    update): Pearson's chi-square of each issue's counts across the earlier releases, pooled over
    issues with at least ``DISPERSION_MIN_POSTS`` posts there, estimates the dispersion phi; with
    release size n, phi = 1 + (n - 1) rho. 0 (the binomial) when it cannot be estimated.
    """
    sizes = [int(versions[v][1]) for v in earlier]
    if len(sizes) < 2 or min(sizes) < 2:
        return 0.0
    total = sum(sizes)
    chi2 = df = 0.0
    for cluster in clusters:
        counts = [cluster.versions.get(v, 0) for v in earlier]
        share = sum(counts) / total
        if sum(counts) < DISPERSION_MIN_POSTS or share >= 1.0:
            continue
        chi2 += sum((x - n * share) ** 2 / (n * share * (1 - share)) for x, n in zip(counts, sizes, strict=True))
        df += len(sizes) - 1
    phi = min(MAX_DISPERSION, max(1.0, chi2 / df)) if df else 1.0
    return (phi - 1.0) / max(1.0, total / len(sizes) - 1.0)


def version_test(cluster: Any, release: ReleaseWindow, versions: Mapping[str, Sequence[Any]], p: Any,
                 rho: float = 0.0) -> dict[str, Any] | None:
    """One issue's share of the release's posts against its share in the earlier releases (beta-binomial
    upper tail with spread ``rho``); None when it has too few posts or was born part-way through the
    earlier releases."""
    x = sum(cluster.versions.get(v, 0) for v in release.pooled)
    if x < p.min_count:
        return None
    version, earlier = release.version, release.earlier
    n = max(release.posts, x)
    x0 = sum(cluster.versions.get(v, 0) for v in earlier)
    if x0 and cluster.first_seen is not None and cluster.first_seen.date().isoformat() > versions[earlier[0]][0]:
        # Born part-way through the earlier releases, it missed their early posts: its share there is
        # undercounted and any "rise" partly an artefact of its age. Day tests still watch it.
        return None
    n0 = sum(int(versions[v][1]) for v in earlier)
    share0 = (x0 + PSEUDO_COUNT) / (n0 + 1.0)
    return {"scope": "version", "version": version, "with_versions": release.pooled[:-1],
            "baseline_versions": list(earlier), "count": x, "total": n,
            "baseline_count": x0, "baseline_total": n0, "baseline_share": round(share0, 6),
            "share": round(x / n, 6), "expected": round(share0 * n, 3),
            "p_value": betabinom_sf(x, n, share0, rho), "dispersion_rho": round(rho, 5),
            "fdr": p.version_fdr}
