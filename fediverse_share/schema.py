"""All tables of an instance: the application's and the ledger's."""

from __future__ import annotations

from sqlalchemy import MetaData

from exchange import clearing_tables as _clearing_tables  # noqa: F401  (registers its tables)
from exchange import tables as ledger_tables
from exchange import trade_tables as _trade_tables  # noqa: F401  (registers its tables)
from fediverse_share import tables
from fediverse_share.mastodon import tables as _mastodon_tables  # noqa: F401  (registers its tables)


def all_metadata() -> list[MetaData]:
    return [tables.metadata, ledger_tables.metadata]


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave the engine-specific full-text objects (``fts_*``) out of comparisons."""
    return not (name or "").startswith("fts_")
