"""Room in a release: which discoveries alert in it and which non-significant rises get a watch note.

At most ``release_top`` issues alert in one release (:func:`top_of_release`); the room they leave goes to
watch notes (:func:`watch_notes`): the release's strongest rises that were not a discovery, each marked
as such. Pure functions over the day's release tests (cluster key -> figures, as
``alerts.release_tests.version_test`` returns them) and the clusters; ``alerts.detect`` calls them each
day a release is looked at and turns the picks into events.

A watch note and the release watch (``alerts.release_watch``) can name the same topic of the same
release; where both reach one reader (the backtest's day lists, the digest), :func:`in_release_watch`
finds the release-watch entry that already shows the note's issue, so the note is not said twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from alerts.clustering import Cluster
from alerts.release_tests import ReleaseWindow

WATCH_MIN_LIFT = 1.5  # a watch note needs the release's share at least this many times the earlier one
WATCH_QUIET_RELEASES = 2  # an issue noted in one of this many releases before is not watch-noted again


def issues_alerted_in(clusters: Iterable[Cluster], version: str, *, watched: bool) -> int:
    """Issues alerted in a release so far (with ``watched``, those given a watch note in it too)."""
    return sum(1 for c in clusters if version in c.version_alerts or (watched and version in c.watched))


def top_of_release(significant: set[int], tests: Mapping[int, dict[str, Any]], version: str,
                   clusters: Mapping[int, Cluster], release_top: int) -> set[int]:
    """The strongest discoveries of a release not alerted in it yet, up to ``release_top`` issues alerted
    in that release in all (issues a day test alerted during it count too)."""
    sent = issues_alerted_in(clusters.values(), version, watched=False)
    room = max(0, release_top - sent)
    fresh = sorted((k for k in significant if version not in clusters[k].version_alerts),
                   key=lambda k: (tests[k]["p_value"], k))
    return set(fresh[:room])


def recent_releases(release: ReleaseWindow, order: Sequence[str], quiet: int = WATCH_QUIET_RELEASES) -> set[str]:
    """The release and the ``quiet`` releases before it; a pooled test looks back from its oldest release."""
    first = order.index(release.pooled[0])
    return {release.version, *order[max(0, first - quiet):first]}


def noted_lately(cluster: Cluster, lately: Collection[str]) -> bool:
    """Whether the issue was alerted or watch-noted in one of the ``lately`` releases."""
    return bool(set(lately).intersection(cluster.watched) or set(lately).intersection(cluster.version_alerts))


def watch_notes(tests: Mapping[int, dict[str, Any]], clusters: Mapping[int, Cluster], release: ReleaseWindow,
                order: Sequence[str], alerted: Iterable[tuple[int | None, str | None]], cut: float, *,
                release_top: int, min_count: int, may_alert: Callable[[Cluster], bool],
                ) -> list[tuple[int, dict[str, Any]]]:
    """Issues that grew with a release without being a discovery (p below ``cut``), strongest first.

    They fill what ``release_top`` leaves of the release, so a release with a clear problem shows it
    and a quiet one still names the unmet needs that grew most with it; each says it is not a discovery.
    An issue alerted or noted in one of the ``WATCH_QUIET_RELEASES`` releases before is left out: a
    persistent complaint that swings from release to release is not news each time (a discovery
    still alerts it).

    Args:
        tests: the release tests of the day, by cluster key.
        clusters: the live clusters by key.
        release: the release looked at.
        order: the product's releases in the order they appeared.
        alerted: (cluster key, version) of the events already chosen that day (key None: product-level).
        cut: the p-value a rise must be below.
        release_top: issues that may alert or be noted in one release, in all.
        min_count: members in the release an issue needs.
        may_alert: curation gate (a muted or merged issue gets no note).

    Returns:
        (cluster key, figures of the note) pairs, best first.
    """
    version = release.version
    chosen = list(alerted)
    taken = {key for key, _ in chosen if key is not None}
    sent = issues_alerted_in(clusters.values(), version, watched=True)
    sent += sum(1 for key, v in chosen if key is not None and v == version)
    room = release_top - sent
    if room <= 0:
        return []
    lately = recent_releases(release, order)
    found = sorted((k for k, t in tests.items() if k not in taken and k in clusters
                    and not noted_lately(clusters[k], lately) and not t["significant"]
                    and t["p_value"] < cut and t["count"] >= min_count
                    and t["share"] >= WATCH_MIN_LIFT * t["baseline_share"]
                    and may_alert(clusters[k])), key=lambda k: (tests[k]["p_value"], k))
    return [(k, {**tests[k], "watch_below": cut}) for k in found[:room]]


def in_release_watch(issue: Any, version: str | None, entries: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The release-watch entry that shows ``issue`` for the release ``version``, else None.

    Args:
        issue: the watch note's issue (the same id space as the entries' ``issue``: the replay's cluster
            keys in a backtest, stored issue ids in the store).
        version: the release the note is about.
        entries: release-watch entries (``alerts.release_watch.entry``: ``version``, ``with_versions``
            and, where the topic stands for an issue, ``issue``).
    """
    if issue is None or version is None:
        return None
    for e in entries:
        if e.get("issue") == issue and version in (e.get("version"), *(e.get("with_versions") or ())):
            return e
    return None
