"""full-text search over posts (SQLite FTS5 with triggers, PostgreSQL GIN index); posts by date

Revision ID: 0007
Revises: 0003
"""
from __future__ import annotations

from alembic import op

from store import search

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_posts_created", "posts", ["created_at"])
    bind = op.get_bind()
    statements = search.PG_CREATE if bind.dialect.name == "postgresql" else search.SQLITE_CREATE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    statements = search.PG_DROP if bind.dialect.name == "postgresql" else search.SQLITE_DROP
    for statement in statements:
        op.execute(statement)
    op.drop_index("ix_posts_created", table_name="posts")
