"""listing_search_keys: on PostgreSQL the full-text vectors of listings become a
generated column of ``listings`` and the GIN index one of each listing's keys (its
words' prefixes and its filters' tags), so a search finds the newest matches that pass
its filters through exact index entries (SQLite unchanged)

Revision ID: 0008_listing_search_keys
Revises: 0007_trade_clearing

The DDL lives in ``fediverse_share/listings/search_index.py``. Building the index
computes every listing's keys: about 5 minutes at 1,000,000 listings on a loaded
2-core machine.
"""

from __future__ import annotations

from alembic import op

from fediverse_share.listings.search_index import (
    move_search_index_into_listings,
    move_search_index_out_of_listings,
)

revision = "0008_listing_search_keys"
down_revision = "0007_trade_clearing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    move_search_index_into_listings(op)


def downgrade() -> None:
    move_search_index_out_of_listings(op)
