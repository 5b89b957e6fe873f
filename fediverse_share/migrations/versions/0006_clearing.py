"""clearing: peering links, posted rates, clearing legs, statements and payers' quotes

Revision ID: 0006_clearing
Revises: 0005_listing_keys

The tables are declared in ``exchange/clearing_tables.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_clearing"
down_revision = "0005_listing_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clearing_legs",
        sa.Column("transfer_id", sa.String(length=2048), nullable=False),
        sa.Column("ref", sa.String(length=44), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("upstream_domain", sa.String(length=253), nullable=True),
        sa.Column("downstream_domain", sa.String(length=253), nullable=True),
        sa.Column("debit_account_id", sa.String(length=300), nullable=False),
        sa.Column("credit_account_id", sa.String(length=300), nullable=False),
        sa.Column("amount_in_minor", sa.BigInteger(), nullable=True),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("out_minor", sa.BigInteger(), nullable=False),
        sa.Column("downstream_gross_minor", sa.BigInteger(), nullable=True),
        sa.Column("rate_id", sa.String(length=300), nullable=True),
        sa.Column("residue_num", sa.String(length=80), nullable=False),
        sa.Column("residue_den", sa.String(length=80), nullable=False),
        sa.Column("condition", sa.String(length=64), nullable=False),
        sa.Column("fulfilment", sa.String(length=64), nullable=True),
        sa.Column("destination", sa.String(length=2048), nullable=False),
        sa.Column("deliver", sa.String(length=200), nullable=False),
        sa.Column("deliver_minor", sa.BigInteger(), nullable=True),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("rate_ids", sa.String(length=2048), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("role IN ('payer', 'hop', 'payee')", name=op.f("ck_clearing_legs_role")),
        sa.CheckConstraint(
            "state IN ('prepared', 'committed', 'aborted', 'expired', 'in_doubt')",
            name=op.f("ck_clearing_legs_state"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_clearing_legs")),
        sa.UniqueConstraint("ref", name=op.f("uq_clearing_legs_ref")),
    )
    op.create_index(
        op.f("ix_clearing_legs_downstream_domain"),
        "clearing_legs",
        ["downstream_domain", "state"],
        unique=False,
    )
    op.create_index(
        op.f("ix_clearing_legs_state"), "clearing_legs", ["state", "expires_at_us"], unique=False
    )
    op.create_index(
        op.f("ix_clearing_legs_upstream_domain"),
        "clearing_legs",
        ["upstream_domain", "state"],
        unique=False,
    )
    op.create_table(
        "clearing_links",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("actor_uri", sa.String(length=2048), nullable=False),
        sa.Column("inbox_url", sa.String(length=2048), nullable=False),
        sa.Column("currency_code", sa.String(length=16), nullable=False),
        sa.Column("currency_scale", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("local_consent", sa.Boolean(), nullable=False),
        sa.Column("remote_consent", sa.Boolean(), nullable=False),
        sa.Column("remote_updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column("residue_num", sa.String(length=80), nullable=False),
        sa.Column("residue_den", sa.String(length=80), nullable=False),
        sa.Column("statement_seq", sa.BigInteger(), nullable=False),
        sa.Column("statement_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'frozen', 'ended')",
            name=op.f("ck_clearing_links_status"),
        ),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_clearing_links")),
    )
    op.create_table(
        "clearing_peer_rates",
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("currency_code", sa.String(length=16), nullable=False),
        sa.Column("peer_currency_code", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rate_num", sa.String(length=80), nullable=False),
        sa.Column("rate_den", sa.String(length=80), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("max_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("valid_from_us", sa.BigInteger(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_clearing_peer_rates")),
    )
    op.create_index(
        op.f("ix_clearing_peer_rates_domain"),
        "clearing_peer_rates",
        ["domain", "peer_currency_code", "version"],
        unique=False,
    )
    op.create_table(
        "clearing_quotes",
        sa.Column("transfer_id", sa.String(length=2048), nullable=False),
        sa.Column("quote_id", sa.String(length=40), nullable=False),
        sa.Column("payer_account_id", sa.String(length=300), nullable=False),
        sa.Column("payment_key", sa.String(length=300), nullable=True),
        sa.Column("destination", sa.String(length=2048), nullable=False),
        sa.Column("deliver_currency", sa.String(length=24), nullable=False),
        sa.Column("deliver_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("rate_ids", sa.String(length=2048), nullable=False),
        sa.Column("condition", sa.String(length=64), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_clearing_quotes")),
        sa.UniqueConstraint(
            "payer_account_id", "payment_key", name=op.f("uq_clearing_quotes_payer_account_id")
        ),
        sa.UniqueConstraint("quote_id", name=op.f("uq_clearing_quotes_quote_id")),
    )
    op.create_table(
        "clearing_rates",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("peer_currency_code", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rate_num", sa.String(length=80), nullable=False),
        sa.Column("rate_den", sa.String(length=80), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("max_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("valid_from_us", sa.BigInteger(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("fee_bps >= 0 AND fee_bps < 10000", name=op.f("ck_clearing_rates_fee")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clearing_rates")),
        sa.UniqueConstraint(
            "peer_currency_code", "version", name=op.f("uq_clearing_rates_peer_currency_code")
        ),
    )
    op.create_table(
        "clearing_statements",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("legs", sa.BigInteger(), nullable=False),
        sa.Column("legs_hash", sa.String(length=64), nullable=False),
        sa.Column("running_hash", sa.String(length=64), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('sent', 'received')", name=op.f("ck_clearing_statements_direction")
        ),
        sa.PrimaryKeyConstraint("domain", "direction", "seq", name=op.f("pk_clearing_statements")),
    )


def downgrade() -> None:

    op.drop_table("clearing_statements")
    op.drop_table("clearing_rates")
    op.drop_table("clearing_quotes")
    op.drop_index(op.f("ix_clearing_peer_rates_domain"), table_name="clearing_peer_rates")
    op.drop_table("clearing_peer_rates")
    op.drop_table("clearing_links")
    op.drop_index(op.f("ix_clearing_legs_upstream_domain"), table_name="clearing_legs")
    op.drop_index(op.f("ix_clearing_legs_state"), table_name="clearing_legs")
    op.drop_index(op.f("ix_clearing_legs_downstream_domain"), table_name="clearing_legs")
    op.drop_table("clearing_legs")
