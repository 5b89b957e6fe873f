"""listing_keys: members' Idempotency-Keys for creating listings through the exchange API

Revision ID: 0005_listing_keys
Revises: 0004_mastodon

The table is declared in ``fediverse_share/tables.py`` (``listing_keys``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_listing_keys"
down_revision = "0004_mastodon"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "listing_keys",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("listing_id", sa.BigInteger(), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_listing_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_listing_keys")),
    )


def downgrade() -> None:
    op.drop_table("listing_keys")
