"""What detection reports: an :class:`Event` (an issue entered a state, or a product-level change).

The detector (``alerts.detect``) makes them, ``alerts.transitions.record`` books the queued ones on
their issue, the store side (``alerts.issues``) turns them into outbox rows and the replay into
backtest entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

# The event kind of each state an issue can enter with an alert.
ISSUE_ALERT_KINDS = {"new": "issue_new", "rising": "issue_rising", "reopened": "issue_reopened"}


@dataclass(frozen=True)
class Event:
    """Something worth an alert: the state an issue entered, or a product-level change."""

    kind: str  # issue_new | issue_rising | issue_reopened | issue_watch | volume_spike | rating_drop | sentiment_drop
    day: date  # the one "as of" day of the alert: its counts, trend and header are all as of its end
    key: int | None  # cluster key for issue events
    state: str | None
    figures: dict[str, Any]
    version: str | None = None  # the release the issue emerged in or rose with (when posts carry versions)
