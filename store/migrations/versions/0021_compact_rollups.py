"""compact rollup rows for the report's cubes (volume per week; labels per day, week and month)

No schema change: the compact rows live in ``rollup_days`` under new ``span`` values (``store.rollups``).
A store that already has posts gets them by a rebuild once the schema is at head (``rollups.rebuild_if_due``).

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    has_posts = bind.execute(sa.text("SELECT 1 FROM posts LIMIT 1")).first() is not None
    due = bind.execute(sa.text("SELECT 1 FROM rollup_state WHERE name = 'rebuild_due'")).first() is not None
    if has_posts and not due:
        bind.execute(sa.text("INSERT INTO rollup_state (name, details) VALUES (:name, :details)"),
                     {"name": "rebuild_due", "details": "{}"})


def downgrade() -> None:
    # The older code reads only the day and week rows (span 1 and 7); the compact ones would be counted by none.
    op.get_bind().execute(sa.text("DELETE FROM rollup_days WHERE span NOT IN (1, 7)"))
