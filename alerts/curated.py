"""Where detection consults what people decided (``store.curation.CurationState``).

``run_detect`` calls :func:`curate_clusters` once after loading a product's issues, :func:`hold_muted`
on the detector's events before saving, and :func:`keeps_label` before relabelling; ``backtest`` passes a
:class:`BacktestCuration` to the replay. The rules:

* a renamed issue keeps its human label however it grows;
* a merged issue is left out of detection (its posts and centroid live in the survivor), so its id
  never takes posts or alerts again;
* a muted issue is tracked as usual but queues no alert before its date (and does not enter an
  alerted state, so the first significant day after the mute alerts);
* a post people took out of issues (``store.curation.excluded_posts``: not an issue, or split off in a
  group too small to be an issue) is counted in the product's totals but never joins an issue again
  (:func:`keep_out`);
* an issue resolved by hand reopens only on posts created after the resolution (the detector's rule
  ``last_seen > state_changed_at``), and its reopened alert quotes those posts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from alerts.clustering import Cluster, PostRow
from alerts.detect import Detector
from alerts.events import Event
from alerts.release_watch import holder
from alerts.transitions import WATCH_KIND, alert_count_name
from store.curation import MERGED, CurationState


def curate_clusters(clusters: Iterable[Cluster], state: CurationState) -> list[Cluster]:
    """The clusters detection should work with: merged ones dropped, human labels in place."""
    out = []
    for cluster in clusters:
        if cluster.state == MERGED or state.is_merged(cluster.key):
            continue
        label = state.human_label(cluster.key)
        if label:
            cluster.label = label
        out.append(cluster)
    return out


def keep_out(posts: Sequence[PostRow], excluded: Collection[int]) -> list[PostRow]:
    """The posts with those people took out of issues stripped of their embedding: counted, never clustered."""
    if not excluded:
        return list(posts)
    return [replace(p, embedding=None) if p.id in excluded else p for p in posts]


def keeps_label(state: CurationState, issue_id: int) -> bool:
    """Whether an issue's label is a person's (detection must not relabel it)."""
    return bool(state.human_label(issue_id))


def may_alert(state: CurationState, issue_id: int | None, day: date) -> bool:
    """Whether an event of this issue on ``day`` may queue an alert (not while it is muted)."""
    return issue_id is None or not state.silenced(issue_id, day)


def hold_muted(detector: Detector, events: list[Event], state: CurationState) -> list[Event]:
    """Drop the events of muted issues and undo what alerting did to them.

    A muted issue is tracked (it takes posts, its counts and tests run) but never enters an alerted
    state: a new or rising one stays ``ongoing`` and its cool-down clock is not started, so once the
    mute ends the next significant day alerts. Must run before the clusters are saved.
    """
    kept = []
    for event in events:
        if event.key is None or event.key < 0 or may_alert(state, event.key, event.day):
            kept.append(event)
            continue
        cluster = detector.clusters.get(event.key)
        if cluster is None or event.state is None:
            continue
        counted = alert_count_name(event)
        count = cluster.alert_counts.get(counted, 0)
        if count > 1:
            cluster.alert_counts[counted] = count - 1
        else:
            cluster.alert_counts.pop(counted, None)
        if event.kind == WATCH_KIND:
            continue  # a watch note started no cool-down and changed no state
        cluster.last_alert_at = None
        if cluster.state in ("new", "rising"):
            cluster.state = "ongoing"
        cluster.dirty = True
    return kept


def new_evidence_since(state: CurationState, issue_id: int, event: Event) -> datetime | None:
    """For a reopened issue that a person had resolved: the resolution time (quote posts after it)."""
    if event.state != "reopened":
        return None
    return state.resolved_at(issue_id)


class BacktestCuration:
    """Applies curation to a replay, whose clusters are rebuilt from scratch.

    Each replayed cluster stands for the stored issue holding most of its posts (after merges, the
    survivor); its alerts then carry that issue's id and human label, are dropped while it is muted,
    come as ``issue_reopened`` after a person resolved it, and appear once per issue and day.
    """

    def __init__(self, state: CurationState, membership: Mapping[int, int]) -> None:
        self.state = state
        self.membership = membership  # post id -> stored issue id
        self._seen: set[tuple[str, int, str]] = set()

    def __call__(self, detector: Detector, event: Event, entry: dict[str, Any]) -> dict[str, Any] | None:
        if event.key is None:
            return entry
        cluster = detector.clusters.get(event.key)
        if cluster is None:
            return entry
        votes = Counter(self.membership[pid] for pid, _ in cluster.added if pid in self.membership)
        if not votes:
            return entry
        issue_id = self.state.survivor(votes.most_common(1)[0][0])
        if self.state.silenced(issue_id, event.day):
            return None
        out = dict(entry, issue_id=issue_id)
        label = self.state.human_label(issue_id)
        if label:
            out["label"] = label
        resolved = self.state.resolved_at(issue_id)
        if resolved is not None and event.day > resolved.date() and out.get("state") in ("new", "rising"):
            out.update(state="reopened", kind="issue_reopened")
        key = (event.day.isoformat(), issue_id, str(out.get("state")))
        if key in self._seen:
            return None
        self._seen.add(key)
        return out

    def mutes(self, post_ids: Sequence[int], day: date) -> bool:
        """Whether a release-watch topic (its posts in the release) stands for an issue muted on ``day``:
        the stored issue (after merges) holding at least half of them."""
        issue = holder(post_ids, self.membership)
        return issue is not None and self.state.silenced(self.state.survivor(issue), day)
