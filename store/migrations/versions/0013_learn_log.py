"""learn log: every product layer ``voxpop learn`` kept, with what it changed, so ``--undo`` can go back

Revision ID: 0013
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('product_model_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=True),
    sa.Column('base_version', sa.String(length=100), nullable=False),
    sa.Column('weights', sa.LargeBinary(), nullable=True),
    sa.Column('corrections', sa.Integer(), nullable=False),
    sa.Column('last_correction_id', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('undone', sa.Boolean(), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_model_log_product_id_products'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_model_log'))
    )
    with op.batch_alter_table('product_model_log', schema=None) as batch_op:
        batch_op.create_index('ix_product_model_log_product', ['product_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('product_model_log', schema=None) as batch_op:
        batch_op.drop_index('ix_product_model_log_product')
    op.drop_table('product_model_log')
