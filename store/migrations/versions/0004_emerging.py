"""emerging issues: merged issues redirect to the issue that absorbed them

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_issues_merged_into'), ['merged_into'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_issues_merged_into_issues'), 'issues', ['merged_into'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_issues_merged_into_issues'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_issues_merged_into'))
        batch_op.drop_column('merged_into')
