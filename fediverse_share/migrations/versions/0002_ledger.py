"""ledger tables: currency, settings, accounts, transfers, holds, limit changes

Revision ID: 0002_ledger
Revises: 0001_core

The tables are declared in ``exchange/tables.py`` (see its docstring); this revision
creates them. Until the first release it may be edited in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("credit_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("upper_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("soft_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("debits_posted_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted_minor", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending_minor", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("allowance_granted_minor", sa.BigInteger(), nullable=False),
        sa.Column("allowance_remaining_minor", sa.BigInteger(), nullable=False),
        sa.Column("demurrage_settled_to_us", sa.BigInteger(), nullable=False),
        sa.Column("opened_at_us", sa.BigInteger(), nullable=False),
        sa.Column("closed_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('member', 'system', 'peer')", name=op.f("ck_ledger_accounts_kind")
        ),
        sa.CheckConstraint("credit_limit_minor >= 0", name=op.f("ck_ledger_accounts_credit_limit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "ledger_currency",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_currency_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_currency")),
    )
    op.create_table(
        "ledger_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("default_credit_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("default_soft_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("default_upper_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("issuance_allowance_minor", sa.BigInteger(), nullable=False),
        sa.Column("issuance_copay_bps", sa.Integer(), nullable=False),
        sa.Column("issuance_reputation_threshold", sa.String(length=40), nullable=False),
        sa.Column("demurrage_rate_bps", sa.Integer(), nullable=False),
        sa.Column("demurrage_period", sa.String(length=8), nullable=False),
        sa.Column("demurrage_free_threshold_minor", sa.BigInteger(), nullable=False),
        sa.Column("demurrage_since_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_settings_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_settings")),
    )
    op.create_table(
        "ledger_limit_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=300), nullable=False),
        sa.Column("changed_at_us", sa.BigInteger(), nullable=False),
        sa.Column("credit_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("upper_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("soft_limit_minor", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_limit_changes_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_limit_changes")),
    )
    op.create_index(
        op.f("ix_ledger_limit_changes_account_id"),
        "ledger_limit_changes",
        ["account_id", "changed_at_us"],
        unique=False,
    )
    op.create_table(
        "ledger_transfers",
        sa.Column(
            "ordinal",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("debit_account_id", sa.String(length=300), nullable=False),
        sa.Column("credit_account_id", sa.String(length=300), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", sa.String(length=300), nullable=True),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=True),
        sa.Column("debit_seq", sa.BigInteger(), nullable=False),
        sa.Column("credit_seq", sa.BigInteger(), nullable=False),
        sa.Column("debit_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("debit_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("credit_hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint(
            "phase IN ('single', 'pending', 'post', 'void', 'expire')",
            name=op.f("ck_ledger_transfers_phase"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_ledger_transfers_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_ledger_transfers_two_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("ordinal", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint(
            "credit_account_id", "credit_seq", name=op.f("uq_ledger_transfers_credit_account_id")
        ),
        sa.UniqueConstraint(
            "debit_account_id", "debit_seq", name=op.f("uq_ledger_transfers_debit_account_id")
        ),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_transfers_id")),
        sa.UniqueConstraint("pending_id", name=op.f("uq_ledger_transfers_pending_id")),
    )
    op.create_index(
        op.f("ix_ledger_transfers_reference"), "ledger_transfers", ["reference"], unique=False
    )
    op.create_table(
        "ledger_holds",
        sa.Column("pending_id", sa.String(length=300), nullable=False),
        sa.Column("expires_at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pending_id"],
            ["ledger_transfers.id"],
            name=op.f("fk_ledger_holds_pending_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_ledger_holds")),
    )
    op.create_index(
        op.f("ix_ledger_holds_expires_at_us"), "ledger_holds", ["expires_at_us"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_holds_expires_at_us"), table_name="ledger_holds")
    op.drop_table("ledger_holds")
    op.drop_index(op.f("ix_ledger_transfers_reference"), table_name="ledger_transfers")
    op.drop_table("ledger_transfers")
    op.drop_index(op.f("ix_ledger_limit_changes_account_id"), table_name="ledger_limit_changes")
    op.drop_table("ledger_limit_changes")
    op.drop_table("ledger_settings")
    op.drop_table("ledger_currency")
    op.drop_table("ledger_accounts")
