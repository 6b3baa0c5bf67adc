"""human step corrections: post_labels.step (``voxpop label --post ID --step STEP``)

Revision ID: 0015
Revises: 0014 (the head of integration; the brief said 0008, which would make two heads here)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_labels") as batch:
        batch.add_column(sa.Column("step", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_labels") as batch:
        batch.drop_column("step")
