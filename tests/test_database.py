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


def _add_instances(conn: Connection, items: list[tuple[int, bool]], calls: list[int]) -> list[int]:
    calls.append(len(items))
    return [_add_instance(conn, row_id, fail) for row_id, fail in items]


async def test_batched_writes_share_a_call_and_keep_their_own_outcomes(db: Database) -> None:
    """Items written at once go to one batch call; when the batch raises, each item is
    written alone: only the failing ones fail, with their own errors, and the rest stay."""
    calls: list[int] = []

    def add(conn: Connection, items: list[tuple[int, bool]]) -> list[int]:
        return _add_instances(conn, items, calls)

    results = await asyncio.gather(
        *(db.write_batched(add, (i, i % 5 == 0)) for i in range(1, 101)),
        return_exceptions=True,
    )
    assert max(calls) > 1
    for i, result in enumerate(results, start=1):
        if i % 5 == 0:
            assert isinstance(result, ValueError) and str(result) == f"refused {i}"
        else:
            assert result == i
    assert await db.read(_count) == 80


async def test_a_batch_without_failures_is_one_call(db: Database) -> None:
    """Items submitted together with nothing failing are written by a single call."""
    calls: list[int] = []

    def add(conn: Connection, items: list[tuple[int, bool]]) -> list[int]:
        return _add_instances(conn, items, calls)

    results = await asyncio.gather(*(db.write_batched(add, (i, False)) for i in range(1, 41)))
    assert results == list(range(1, 41))
    assert calls == [40]
    assert await db.read(_count) == 40


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
