"""trade_clearing: trades paid through clearing keep their currency's scale (indexed with
the state, for the worker that records their payments); a payment pays one trade

Revision ID: 0007_trade_clearing
Revises: 0006_clearing

The columns are declared in ``exchange/trade_tables.py`` (``trades``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_trade_clearing"
down_revision = "0006_clearing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trades", sa.Column("clearing_scale", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_trades_payment_id"), "trades", ["payment_id"], unique=True)
    op.create_index(
        op.f("ix_trades_clearing_scale"), "trades", ["clearing_scale", "state"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trades_clearing_scale"), table_name="trades")
    op.drop_index(op.f("ix_trades_payment_id"), table_name="trades")
    op.drop_column("trades", "clearing_scale")
