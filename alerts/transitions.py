"""Issue state transitions: candidate -> new/ongoing -> rising -> ongoing -> resolved -> reopened.

Pure functions over one cluster (``alerts.detect.Cluster``) and the day's test result; the detector
calls them for every cluster it evaluates, and :func:`record` when an alert about it is queued.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

WATCH_KIND = "issue_watch"  # grew with a release, not (yet) a discovery: worth watching, says so, starts no cool-down


def alert_count_name(event: Any) -> str:
    """The name an issue's ``alert_counts`` count this event under: its state, or "watch"."""
    return "watch" if event.kind == WATCH_KIND else str(event.state)


def cooled(cluster: Any, now: datetime, cooldown_days: int) -> bool:
    """Whether the issue's last alert is at least ``cooldown_days`` old (or it never alerted)."""
    last = cluster.last_alert_at
    return last is None or now - last >= timedelta(days=cooldown_days)


def set_state(cluster: Any, state: str, now: datetime) -> None:
    """Enter ``state`` now (marks the cluster for saving)."""
    cluster.state = state
    cluster.state_changed_at = now
    cluster.dirty = True


def record(cluster: Any, event: Any, now: datetime) -> None:
    """Record that ``event`` was queued: its issue's alert count, time and version (cool-down starts).

    Called only for events that are queued (in the same transaction), never for events a run keeps
    silent, so a recorded alert always exists and an unrecorded one never blocks a later alert.
    """
    if event.state is None:
        return
    counted = alert_count_name(event)
    cluster.alert_counts[counted] = cluster.alert_counts.get(counted, 0) + 1
    if event.kind == WATCH_KIND:  # no cool-down, no version mark: a real rise may still alert
        if event.version and event.version not in cluster.watched:
            cluster.watched.append(event.version)
        cluster.dirty = True
        return
    cluster.last_alert_at = now
    if event.version and event.version not in cluster.version_alerts:
        cluster.version_alerts.append(event.version)
    cluster.dirty = True


def transition(cluster: Any, now: datetime, x: int, significant: bool, quiet_before: date, *,
               cooldown_days: int, min_count: int) -> str | None:
    """Move one cluster to its state as of ``now``; returns the state worth an alert (new, rising,
    reopened) or None.

    Args:
        x: the cluster's posts in the day window.
        significant: a discovery today (day or release test) that curation lets alert.
        quiet_before: a cluster last seen before this day is resolved.
    """
    state = cluster.state
    if state == "candidate":  # size >= min_count here
        set_state(cluster, "new" if significant else "ongoing", now)
        return "new" if significant else None
    if state == "resolved":
        # Only posts after the resolution bring it back (a person may resolve an issue mid-day).
        after_resolution = (cluster.state_changed_at is None or cluster.last_seen is None
                            or cluster.last_seen > cluster.state_changed_at)
        if (x == 0 and not significant) or not after_resolution:
            return None
        # Kept so the issue page can show the posts after the resolution that brought it back.
        resolved = cluster.state_changed_at
        cluster.stats = {**(cluster.stats or {}), "resolved_since": resolved.isoformat() if resolved else None}
        set_state(cluster, "reopened", now)
        return "reopened" if significant and cooled(cluster, now, cooldown_days) else None
    if cluster.last_seen is not None and cluster.last_seen.date() < quiet_before:
        set_state(cluster, "resolved", now)
        return None
    if significant:
        unannounced = cluster.last_alert_at is None or (
            cluster.state_changed_at is not None and cluster.last_alert_at < cluster.state_changed_at)
        if cooled(cluster, now, cooldown_days) and (state != "rising" or unannounced):
            set_state(cluster, "rising", now)
            return "rising"
        return None
    # An alerted state is kept through its cool-down, so listings agree with the alert just sent.
    settled = cluster.state_changed_at is None or now - cluster.state_changed_at >= timedelta(days=cooldown_days)
    if state in ("rising", "new", "reopened") and x < min_count and settled:
        set_state(cluster, "ongoing", now)
    return None
