"""job map: the step of the customer's process each classification places its post on

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("classifications") as batch:
        batch.add_column(sa.Column("step", sa.String(40), nullable=True))
        batch.add_column(sa.Column("step_score", sa.Float(), nullable=True))
        batch.create_index("ix_classifications_step", ["step"])


def downgrade() -> None:
    with op.batch_alter_table("classifications") as batch:
        batch.drop_index("ix_classifications_step")
        batch.drop_column("step_score")
        batch.drop_column("step")
