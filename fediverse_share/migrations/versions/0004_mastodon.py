"""Mastodon client API: reblogs, home feeds, account stats, tags, notifications, bookmarks, follow
options, markers, media attachments, status idempotency keys; replies index on posts

Revision ID: 0004_mastodon
Revises: 0003_trades

The tables are declared in ``fediverse_share/mastodon/tables.py`` (see its docstring).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_mastodon"
down_revision = "0003_trades"
branch_labels = None
depends_on = None


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_in_reply_to", ["in_reply_to_uri"], unique=False)
    op.create_table(
        "reblogs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        _fk("actor_id", "reblogs", "actors"),
        _fk("post_id", "reblogs", "posts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reblogs")),
        sa.UniqueConstraint("actor_id", "post_id", name="uq_reblogs_pair"),
        sa.UniqueConstraint("uri", name=op.f("uq_reblogs_uri")),
    )
    op.create_index("ix_reblogs_post", "reblogs", ["post_id"])
    op.create_index("ix_reblogs_actor", "reblogs", ["actor_id", "id"])
    op.create_table(
        "home_feed",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        _fk("user_id", "home_feed", "users"),
        sa.PrimaryKeyConstraint("user_id", "status_id", name=op.f("pk_home_feed")),
    )
    op.create_index("ix_home_feed_post", "home_feed", ["post_id"])
    op.create_table(
        "account_stats",
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("statuses_count", sa.BigInteger(), nullable=False),
        sa.Column("last_status_at_us", sa.BigInteger(), nullable=True),
        _fk("actor_id", "account_stats", "actors"),
        sa.PrimaryKeyConstraint("actor_id", name=op.f("pk_account_stats")),
    )
    op.create_table(
        "post_tags",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        _fk("post_id", "post_tags", "posts"),
        sa.PrimaryKeyConstraint("name", "post_id", name=op.f("pk_post_tags")),
    )
    op.create_index("ix_post_tags_post", "post_tags", ["post_id"])
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        _fk("user_id", "bookmarks", "users"),
        _fk("post_id", "bookmarks", "posts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookmarks")),
        sa.UniqueConstraint("user_id", "post_id", name="uq_bookmarks_pair"),
    )
    op.create_index("ix_bookmarks_user", "bookmarks", ["user_id", "id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("status_id", sa.BigInteger(), nullable=True),
        sa.Column("source_uri", sa.String(length=2048), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        _fk("user_id", "notifications", "users"),
        _fk("account_id", "notifications", "actors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "type", "source_uri", name="uq_notifications_source"),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "id"])
    op.create_table(
        "follow_options",
        sa.Column("follower_id", sa.BigInteger(), nullable=False),
        sa.Column("followed_id", sa.BigInteger(), nullable=False),
        sa.Column("reblogs", sa.Boolean(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        _fk("follower_id", "follow_options", "actors"),
        _fk("followed_id", "follow_options", "actors"),
        sa.PrimaryKeyConstraint("follower_id", "followed_id", name=op.f("pk_follow_options")),
    )
    op.create_table(
        "markers",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("timeline", sa.String(length=16), nullable=False),
        sa.Column("last_read_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        _fk("user_id", "markers", "users"),
        sa.PrimaryKeyConstraint("user_id", "timeline", name=op.f("pk_markers")),
    )
    op.create_table(
        "media_attachments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        _fk("user_id", "media_attachments", "users"),
        _fk("post_id", "media_attachments", "posts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_attachments")),
    )
    op.create_index("ix_media_attachments_post", "media_attachments", ["post_id"])
    op.create_table(
        "status_idempotency",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        _fk("user_id", "status_idempotency", "users"),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_status_idempotency")),
    )


def downgrade() -> None:
    for table in (
        "status_idempotency",
        "media_attachments",
        "markers",
        "follow_options",
        "notifications",
        "bookmarks",
        "post_tags",
        "account_stats",
        "home_feed",
        "reblogs",
    ):
        op.drop_table(table)
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_in_reply_to")
