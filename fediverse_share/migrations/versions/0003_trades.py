"""trades, their steps, and reviews

Revision ID: 0003_trades
Revises: 0002_ledger

The tables are declared in ``exchange/trade_tables.py`` (see its docstring); this
revision creates them. Until the first release it may be edited in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_trades"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None

_STATES = (
    "'proposed', 'agreed', 'declined', 'cancelled', 'delivered', 'confirmed', 'paid', "
    "'returned', 'settled'"
)
_OPTIONS = "'fixed', 'pay_what_you_feel', 'gift', 'loan', 'rental', 'swap'"
_ROLES = "'provider', 'receiver'"
_ACCOUNTS = ["ledger_accounts.id"]


def _party(prefix: str) -> list[sa.Column[str]]:
    return [
        sa.Column(f"{prefix}_account_id", sa.String(length=300), nullable=True),
        sa.Column(f"{prefix}_actor_uri", sa.String(length=2048), nullable=True),
    ]


def _party_checks(table: str, prefix: str) -> list[sa.Constraint]:
    return [
        sa.CheckConstraint(
            f"({prefix}_account_id IS NULL) <> ({prefix}_actor_uri IS NULL)",
            name=op.f(f"ck_{table}_{prefix}_ref"),
        ),
        sa.ForeignKeyConstraint(
            [f"{prefix}_account_id"],
            _ACCOUNTS,
            name=op.f(f"fk_{table}_{prefix}_account_id_ledger_accounts"),
        ),
    ]


def _create_trades() -> None:
    op.create_table(
        "trades",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("listing_ref", sa.String(length=2048), nullable=False),
        sa.Column("listing_title", sa.String(length=200), nullable=False),
        sa.Column("listing_kind", sa.String(length=8), nullable=False),
        sa.Column("option", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        *_party("provider"),
        *_party("receiver"),
        sa.Column("proposer", sa.String(length=8), nullable=False),
        sa.Column("payer", sa.String(length=8), nullable=False),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("currency_code", sa.String(length=16), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("outside_currency", sa.String(length=16), nullable=True),
        sa.Column("outside_amount", sa.String(length=40), nullable=True),
        sa.Column("return_due_at_us", sa.BigInteger(), nullable=True),
        sa.Column("agreement_uri", sa.String(length=2048), nullable=True),
        sa.Column("payment_id", sa.String(length=300), nullable=True),
        sa.Column("paid_minor", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_us", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at_us", sa.BigInteger(), nullable=True),
        sa.Column("settled_at_us", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "listing_kind IN ('offer', 'need')", name=op.f("ck_trades_listing_kind")
        ),
        sa.CheckConstraint(f"option IN ({_OPTIONS})", name=op.f("ck_trades_option")),
        sa.CheckConstraint(
            f"proposer IN ({_ROLES}) AND payer IN ({_ROLES})", name=op.f("ck_trades_roles")
        ),
        sa.CheckConstraint(f"state IN ({_STATES})", name=op.f("ck_trades_state")),
        sa.CheckConstraint("price_minor >= 0 AND paid_minor >= 0", name=op.f("ck_trades_amounts")),
        *_party_checks("trades", "provider"),
        *_party_checks("trades", "receiver"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
        sa.UniqueConstraint("agreement_uri", name=op.f("uq_trades_agreement_uri")),
    )
    for column in (
        "listing_ref",
        "provider_account_id",
        "provider_actor_uri",
        "receiver_account_id",
        "receiver_actor_uri",
    ):
        op.create_index(op.f(f"ix_trades_{column}"), "trades", [column], unique=False)


def _create_steps() -> None:
    op.create_table(
        "trade_steps",
        sa.Column("trade_id", sa.String(length=300), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step_id", sa.String(length=300), nullable=True),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("actor_role", sa.String(length=8), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=False),
        sa.Column("to_state", sa.String(length=12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("outside_currency", sa.String(length=16), nullable=True),
        sa.Column("outside_amount", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            f"actor_role IN ({_ROLES}, 'system')", name=op.f("ck_trade_steps_actor_role")
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"], ["trades.id"], name=op.f("fk_trade_steps_trade_id_trades")
        ),
        sa.PrimaryKeyConstraint("trade_id", "seq", name=op.f("pk_trade_steps")),
        sa.UniqueConstraint("trade_id", "step_id", name=op.f("uq_trade_steps_trade_id")),
    )


def _create_reviews() -> None:
    op.create_table(
        "trade_reviews",
        sa.Column("trade_id", sa.String(length=300), nullable=False),
        sa.Column("reviewer_role", sa.String(length=8), nullable=False),
        *_party("reviewer"),
        *_party("subject"),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("written_at_us", sa.BigInteger(), nullable=False),
        sa.Column("stored_at_us", sa.BigInteger(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("remote_signed_by", sa.String(length=2048), nullable=True),
        sa.Column("remote_uri", sa.String(length=2048), nullable=True),
        sa.CheckConstraint(
            f"reviewer_role IN ({_ROLES})", name=op.f("ck_trade_reviews_reviewer_role")
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_trade_reviews_rating")),
        *_party_checks("trade_reviews", "reviewer"),
        *_party_checks("trade_reviews", "subject"),
        sa.ForeignKeyConstraint(
            ["trade_id"], ["trades.id"], name=op.f("fk_trade_reviews_trade_id_trades")
        ),
        sa.PrimaryKeyConstraint("trade_id", "reviewer_role", name=op.f("pk_trade_reviews")),
        sa.UniqueConstraint("remote_uri", name=op.f("uq_trade_reviews_remote_uri")),
    )
    for column in ("subject_account_id", "subject_actor_uri"):
        op.create_index(op.f(f"ix_trade_reviews_{column}"), "trade_reviews", [column], unique=False)


def upgrade() -> None:
    _create_trades()
    _create_steps()
    _create_reviews()


def downgrade() -> None:
    for column in ("subject_account_id", "subject_actor_uri"):
        op.drop_index(op.f(f"ix_trade_reviews_{column}"), table_name="trade_reviews")
    op.drop_table("trade_reviews")
    op.drop_table("trade_steps")
    for column in (
        "listing_ref",
        "provider_account_id",
        "provider_actor_uri",
        "receiver_account_id",
        "receiver_actor_uri",
    ):
        op.drop_index(op.f(f"ix_trades_{column}"), table_name="trades")
    op.drop_table("trades")
