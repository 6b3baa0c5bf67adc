"""per-sentence sentiment: each classification keeps its sentences' sentiments and the mixed flag (issue 28)

Revision ID: 0020
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: rows classified before this revision have no per-sentence reading until they are classified again.
    with op.batch_alter_table("classifications") as batch:
        batch.add_column(sa.Column("sentences", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("mixed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("classifications") as batch:
        batch.drop_column("mixed")
        batch.drop_column("sentences")
