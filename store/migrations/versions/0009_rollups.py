"""rollups: sums per product, day and labels (rollup_days), issue posts per day, rebuild/verify times

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    dims = [
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id", ondelete="CASCADE",
                                                             name="fk_rollup_days_product_id_products")),
        sa.Column("span", sa.Integer()), sa.Column("day", sa.Date()), sa.Column("source", sa.String(50)),
        sa.Column("country", sa.String(10)),
        sa.Column("version", sa.String(100)), sa.Column("language", sa.String(10)),
        sa.Column("skipped", sa.Integer()), sa.Column("sentiment", sa.String(10)),
        sa.Column("need_type", sa.String(20)), sa.Column("unmet", sa.Integer()),
        sa.Column("top_job", sa.String(100)), sa.Column("step", sa.String(40)),
    ]
    for column in dims:
        column.nullable = False
    measures = [sa.Column(name, sa.Integer(), nullable=False) for name in (
        "posts", "rating_n")] + [sa.Column("rating_sum", sa.Float(), nullable=False),
                                 sa.Column("rating_sq", sa.Float(), nullable=False)] + [
        sa.Column(name, sa.Integer(), nullable=False) for name in (
            "star1", "star2", "star3", "star4", "star5", "negative", "neutral", "positive", "latest")]
    op.create_table(
        "rollup_days", *dims, *measures,
        sa.PrimaryKeyConstraint(*[c.name for c in dims], name="pk_rollup_days"),
        sqlite_with_rowid=False,  # the key is the table's b-tree: a range of days is one ordered scan
    )
    op.create_table(
        "rollup_issue_days",
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issues.id", ondelete="CASCADE",
                                                          name="fk_rollup_issue_days_issue_id_issues"),
                  nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "day", name="pk_rollup_issue_days"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_rollup_state"),
    )
    # /status counts the posts held per source from this index, not by reading the table.
    op.create_index("ix_posts_source_id", "posts", ["source_id"])
    # The issues of given posts: rollup upkeep and the part days of a report look posts up by id.
    op.create_index("ix_issue_posts_post_id", "issue_posts", ["post_id"])
    # A store with posts gets its rollups, so readers never see them empty. Not here: the rebuild reads the
    # posts through today's models, whose columns later migrations may add; it runs once the schema is at head
    # (store/migrations/env.py, rollups.rebuild_if_due).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM posts LIMIT 1")).first() is not None:
        bind.execute(sa.text("INSERT INTO rollup_state (name, details) VALUES (:name, :details)"),
                     {"name": "rebuild_due", "details": "{}"})

def downgrade() -> None:
    op.drop_index("ix_issue_posts_post_id", table_name="issue_posts")
    op.drop_index("ix_posts_source_id", table_name="posts")
    op.drop_table("rollup_state")
    op.drop_table("rollup_issue_days")
    op.drop_table("rollup_days")
