"""The Database runner: group commit on SQLite, one transaction per write everywhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Sequence
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Connection, func, insert, select

from fediverse_share import tables
from fediverse_share.database import Database
from tests.conftest import TEST_DATABASE_URL


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


class _Reciprocals:
    """A batch statement for `Database.fetch_batched`: each item's reciprocal, the size
    of the statement that computed it, and its transaction; items are keyed by their
    value modulo 3."""

    sql = (
        "SELECT 1.0 / v, cardinality($1::int[]), txid_current()"
        " FROM unnest($1::int[]) WITH ORDINALITY AS t(v, n) ORDER BY n"
    )

    def arguments(self, items: Sequence[int]) -> tuple[Any, ...]:
        return (list(items),)

    def keys(self, item: int) -> tuple[Hashable, ...]:
        return (item % 3,)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="fetch_batched is for PostgreSQL")
async def test_a_batch_statement_runs_items_without_common_keys_together(db: Database) -> None:
    """Items submitted at once share statements, never with an item of the same key;
    each gets its own row, and a statement is one transaction."""
    batch = _Reciprocals()
    rows = await asyncio.gather(*(db.fetch_batched(batch, i) for i in range(1, 31)))
    assert [float(row[0]) for row in rows] == pytest.approx([1 / i for i in range(1, 31)])
    sizes = [row[1] for row in rows]
    assert max(sizes) == 3  # three keys: at most three items in a statement
    by_transaction: dict[int, list[int]] = {}
    for i, row in enumerate(rows, start=1):
        by_transaction.setdefault(row[2], []).append(i % 3)
    assert all(sorted(keys) == sorted(set(keys)) for keys in by_transaction.values())
    assert len(by_transaction) < 30


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="fetch_batched is for PostgreSQL")
async def test_a_failing_batch_statement_runs_each_item_alone(db: Database) -> None:
    """When the statement raises for several items, each runs alone: only the failing
    item gets the error, the others their rows."""
    batch = _Reciprocals()
    results = await asyncio.gather(
        *(db.fetch_batched(batch, i) for i in (4, 0, 2)), return_exceptions=True
    )
    assert float(results[0][0]) == 0.25 and float(results[2][0]) == 0.5
    assert isinstance(results[1], asyncpg.DivisionByZeroError)
    assert [row[1] for row in (results[0], results[2])] == [1, 1]


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="fetch_batched is for PostgreSQL")
async def test_batch_statements_connect_as_the_engine_does(db: Database) -> None:
    """A URL with the driver's options SQLAlchemy takes (``ssl``, its statement cache
    size) serves batch statements too, not only ordinary reads and writes."""
    url = f"{TEST_DATABASE_URL}?ssl=disable&prepared_statement_cache_size=50"
    other = Database(url)
    try:
        assert await other.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar()) == 1
        assert float((await other.fetch_batched(_Reciprocals(), 4))[0]) == 0.25
    finally:
        await other.close()


class _Sleepers:
    """A batch statement whose items each sleep a tenth of their value and come back;
    all items share one key, so each runs in a statement of its own."""

    sql = (
        "SELECT v FROM unnest($1::int[]) WITH ORDINALITY AS t(v, n),"
        " LATERAL (SELECT pg_sleep(v / 10.0)) AS s ORDER BY n"
    )

    def arguments(self, items: Sequence[int]) -> tuple[Any, ...]:
        return (list(items),)

    def keys(self, item: int) -> tuple[Hashable, ...]:
        return ("one",)


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="fetch_batched is for PostgreSQL")
async def test_an_item_submitted_as_every_flusher_finishes_is_written(db: Database) -> None:
    """When all flushers finish in one turn of the loop and a caller they woke submits
    its next item at once, that item is still written (a flusher that has returned
    does not count as one that will take it)."""
    batch = _Sleepers()
    await asyncio.gather(db.fetch_batched(batch, 1), db.fetch_batched(batch, 1))

    async def two_in_a_row() -> tuple[Any, ...]:
        await db.fetch_batched(batch, 1)
        return await db.fetch_batched(batch, 3)

    first = asyncio.create_task(two_in_a_row())
    other = asyncio.create_task(db.fetch_batched(batch, 2))
    await asyncio.sleep(0.05)  # both statements sent, one per flusher
    # Held on purpose: both answers arrive while the loop waits, so both flushers end
    # in the same turn of the loop.
    time.sleep(0.5)  # noqa: ASYNC251
    assert await asyncio.wait_for(first, 10) == (3,)
    assert await other == (2,)


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
