"""Migration 0002_ledger creates exactly the tables exchange.tables declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from exchange.tables import metadata


def _ledger_differences(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})

    def ours(difference: object) -> bool:
        # The application's own tables show up as "remove": they are not ours to compare.
        if isinstance(difference, tuple) and difference[0] in ("remove_table", "remove_index"):
            target = difference[1]
            table = getattr(target, "table", target)
            return str(getattr(table, "name", "")).startswith("ledger_")
        return True

    return [d for d in compare_metadata(context, metadata) if ours(d)]


async def test_the_ledger_migration_matches_the_declared_tables(db):
    """Migrating to head yields the ledger schema of exchange/tables.py, nothing else."""
    assert await db.read(_ledger_differences) == []
