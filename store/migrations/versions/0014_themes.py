"""themes across products: a theme table and each issue's theme (with who set it by hand)

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "themes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("curated_by", sa.String(200), nullable=True),
        sa.Column("curated_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_themes")),
    )
    # Plain ADD COLUMN, not a batch copy: on SQLite a batch would drop and recreate ``issues``, and with
    # foreign keys on, that drop cascades to ``issue_posts`` and ``alerts``. So ``theme_id`` is a plain
    # indexed integer (as ``issue_curations.merged_into``): only the theme pass deletes themes, and only
    # themes no issue points at.
    op.add_column("issues", sa.Column("theme_id", sa.Integer(), nullable=True))
    op.add_column("issues", sa.Column("theme_by", sa.String(200), nullable=True))
    op.create_index("ix_issues_theme_id", "issues", ["theme_id"])


def downgrade() -> None:
    op.drop_index("ix_issues_theme_id", table_name="issues")
    # SQLite (3.35+) drops a plain column in place.
    op.execute("ALTER TABLE issues DROP COLUMN theme_by")
    op.execute("ALTER TABLE issues DROP COLUMN theme_id")
    op.drop_table("themes")
