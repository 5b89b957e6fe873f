"""Upserts that hold under concurrent writers, on both engines."""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection, select

from exchange import clearing_tables as ct
from fediverse_share.database import Database
from fediverse_share.upserts import insert_or_replace


def _rate(received_at_us: int) -> dict[str, object]:
    return {
        "uri": "http://peer.test/clearing/rates/PER-1",
        "domain": "peer.test",
        "currency_code": "PER",
        "peer_currency_code": "OUR",
        "version": 1,
        "rate_num": "3",
        "rate_den": "2",
        "fee_bps": 0,
        "max_amount_minor": 10**9,
        "valid_from_us": 0,
        "valid_until_us": 10**16,
        "received_at_us": received_at_us,
    }


def _received(conn: Connection) -> list[int]:
    return list(conn.execute(select(ct.peer_rates.c.received_at_us)).scalars())


async def test_concurrent_replacements_of_one_row_leave_one_row(db: Database) -> None:
    """Twenty writers replacing the same row at once all succeed and leave one row with
    one writer's values (a delete, then an insert, broke the key on PostgreSQL)."""
    await asyncio.gather(*(db.write(insert_or_replace, ct.peer_rates, _rate(i)) for i in range(20)))
    received = await db.read(_received)
    assert len(received) == 1 and received[0] in range(20)
    await db.write(insert_or_replace, ct.peer_rates, _rate(99))
    assert await db.read(_received) == [99]
