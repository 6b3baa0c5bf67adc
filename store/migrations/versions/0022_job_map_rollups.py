"""the job map's rollups: the step in the compact label rows; issue rows by step, job, sentiment and version

``rollup_days``: no schema change; its compact label rows (spans 201, 207, 230) gain the step dimension, so
the report's job map sums a few thousand label rows instead of the full week rows.
``rollup_issue_days``: recreated with the dimensions the report reads of an issue's posts (step, top job,
sentiment, classified, version), so the issues per step and the issues' details read these rows instead of
every member post.

A store that has posts rebuilds its rollups once the schema is at head (``rollups.rebuild_if_due``), after the
upgrade and after the downgrade alike: each side's code writes its own shape of those rows.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

ISSUE_DIMS = [("step", sa.String(40)), ("top_job", sa.String(100)), ("sentiment", sa.String(10)),
              ("version", sa.String(100)), ("classified", sa.Integer())]


def _issue_table(dims: list[tuple[str, sa.types.TypeEngine]]) -> None:
    op.drop_table("rollup_issue_days")
    op.create_table(
        "rollup_issue_days",
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issues.id", ondelete="CASCADE",
                                                          name="fk_rollup_issue_days_issue_id_issues"),
                  nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *[sa.Column(name, kind, nullable=False) for name, kind in dims],
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "day", *[name for name, _ in dims], name="pk_rollup_issue_days"),
        sqlite_with_rowid=False,
    )


def _rebuild_due() -> None:
    bind = op.get_bind()
    has_posts = bind.execute(sa.text("SELECT 1 FROM posts LIMIT 1")).first() is not None
    due = bind.execute(sa.text("SELECT 1 FROM rollup_state WHERE name = 'rebuild_due'")).first() is not None
    if has_posts and not due:
        bind.execute(sa.text("INSERT INTO rollup_state (name, details) VALUES (:name, :details)"),
                     {"name": "rebuild_due", "details": "{}"})


def upgrade() -> None:
    _issue_table(ISSUE_DIMS)
    _rebuild_due()


def downgrade() -> None:
    _issue_table([])
    _rebuild_due()
