"""The Database runner: group commit on SQLite, one transaction per write everywhere."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, func, insert, select

from fediverse_share import tables
from fediverse_share.database import Database


def _add_instance(conn: Connection, row_id: int, fail: bool) -> int:
    conn.execute(
        insert(tables.instance).values(
            id=row_id, domain="example.test", community_username="c", created_at_us=0
        )
    )
    if fail:
        raise ValueError(f"refused {row_id}")
    return row_id


def _count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(tables.instance)).scalar_one()


async def test_each_write_keeps_its_own_outcome(db: Database) -> None:
    """Concurrent writes commit or roll back one by one, even when batched together."""
    results = await asyncio.gather(
        *(db.write(_add_instance, i, i % 5 == 0) for i in range(1, 101)),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, ValueError)]
    assert len(failed) == 20
    assert await db.read(_count) == 80


async def test_a_failed_write_raises_to_its_caller(db: Database) -> None:
    """The caller of a write that raises gets that exception and nothing is kept."""
    with pytest.raises(ValueError, match="refused 7"):
        await db.write(_add_instance, 7, True)
    assert await db.read(_count) == 0


async def test_migrations_match_the_tables(db: Database) -> None:
    """Migrating to head yields exactly the schema the code declares."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fediverse_share.schema import all_metadata, include_name

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "target_metadata": all_metadata(),
                "include_name": include_name,
            },
        )
        return list(compare_metadata(context, all_metadata()))  # type: ignore[arg-type]

    assert await db.read(diff) == []
