"""edit history: post_revisions keeps a post's earlier versions (text, title, rating, when seen)

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE",
                                                         name="fk_post_revisions_post_id_posts"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("version", sa.String(100), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("sentiment", sa.String(10), nullable=True),
        sa.Column("need_type", sa.String(20), nullable=True),
        sa.Column("unmet_need", sa.Boolean(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_post_revisions"),
    )
    op.create_index("ix_post_revisions_post_replaced", "post_revisions", ["post_id", "replaced_at"])


def downgrade() -> None:
    op.drop_index("ix_post_revisions_post_replaced", table_name="post_revisions")
    op.drop_table("post_revisions")
