"""Store side of themes: read every product's issues, run the pure pass, write themes and ``issues.theme_id``.

Runs once after all products' detection (``voxpop.operations.detect_all``, the scheduler's detect job, the
demo), in one transaction. Issues a person placed (``issues.theme_by`` set) are read as fixed and never
written; themes a person made or named (``themes.curated_by`` set) keep their label and are never deleted.
Automatic themes left without issues are deleted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from alerts.policy import MERGED
from alerts.themes import ThemeIssue, assign_themes
from store.db import Store
from store.models import Issue, Theme

THEMED_STATES_EXCLUDED = ("candidate", MERGED)


@dataclass
class ThemeReport:
    """What one theme pass did."""

    themes: int = 0
    issues_themed: int = 0
    created: int = 0
    removed: int = 0
    changed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def theme_issues(session: Session) -> list[ThemeIssue]:
    """Every issue that can belong to a theme (not a candidate, not merged away)."""
    rows = session.execute(select(Issue.id, Issue.product_id, Issue.label, Issue.centroid, Issue.size, Issue.theme_id,
                                  Issue.theme_by).where(Issue.state.not_in(THEMED_STATES_EXCLUDED))).all()
    return [ThemeIssue(r.id, r.product_id, r.label or "",
                       np.frombuffer(r.centroid, dtype=np.float32) if r.centroid else None, int(r.size or 0),
                       r.theme_id, r.theme_by is not None) for r in rows]


def update_themes(session: Session, *, now: datetime | None = None) -> ThemeReport:
    """Recompute the automatic themes in ``session`` (the caller commits)."""
    now = now or datetime.now(UTC)
    report = ThemeReport()
    issues = theme_issues(session)
    themes = {t.id: t for t in session.scalars(select(Theme))}
    named = {t.id: t.label for t in themes.values() if t.curated_by}
    groups = assign_themes(issues, named=named)
    target: dict[int, int | None] = {i.id: None for i in issues if not i.by_hand}
    for group in groups:
        theme = themes.get(group.theme_id) if group.theme_id is not None else None
        if theme is None:
            theme = Theme(label=group.label, created_at=now, updated_at=now)
            session.add(theme)
            session.flush()
            themes[theme.id] = theme
            report.created += 1
        elif not theme.curated_by and theme.label != group.label:
            theme.label, theme.updated_at = group.label, now
        for issue_id in group.issue_ids:
            if issue_id in target:
                target[issue_id] = theme.id
    current = {i.id: i.theme_id for i in issues}
    changes = [{"id": iid, "theme_id": tid} for iid, tid in target.items() if current[iid] != tid]
    if changes:
        session.execute(update(Issue), changes)
    report.changed = len(changes)
    # An issue merged away or fallen back to a candidate leaves its automatic theme.
    session.execute(update(Issue).where(Issue.state.in_(THEMED_STATES_EXCLUDED), Issue.theme_by.is_(None),
                                        Issue.theme_id.is_not(None)).values(theme_id=None))
    session.flush()
    used = set(session.scalars(select(Issue.theme_id).where(Issue.theme_id.is_not(None)).distinct()))
    empty = [tid for tid, t in themes.items() if tid not in used and not t.curated_by]
    if empty:
        session.execute(delete(Theme).where(Theme.id.in_(empty)))
    report.removed = len(empty)
    report.themes = int(session.scalar(select(func.count()).select_from(Theme)) or 0)
    report.issues_themed = int(session.scalar(select(func.count()).select_from(Issue).where(
        Issue.theme_id.is_not(None), Issue.state.not_in(THEMED_STATES_EXCLUDED))) or 0)
    return report


def run_themes(store: Store) -> ThemeReport:
    """One theme pass over every product, in its own transaction."""
    with store.transaction() as session:
        return update_themes(session)
