"""Inbox items stored in batches: duplicates stay idempotent, a bad item fails alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from fediverse_share import tables
from fediverse_share.database import Database
from fediverse_share.federation.inbox import InboxItem, store_items
from fediverse_share.ids import IdGenerator

ACTOR = "https://remote.example/users/alice"


def _stored(conn: Connection) -> list[tuple[str, str]]:
    i = tables.inbox_items
    rows = conn.execute(select(i.c.activity_uri, i.c.body).order_by(i.c.activity_uri))
    return [(row.activity_uri, row.body) for row in rows]


def _item(ids: IdGenerator, number: int, *, recipient_id: int | None = None) -> InboxItem:
    uri = f"{ACTOR}/activities/{number}"
    return InboxItem(ids.next_id(), uri, ACTOR, recipient_id, f'{{"n": {number}}}'.encode())


async def test_a_batch_stores_each_activity_once(db: Database) -> None:
    """Activities accepted together are all stored; the same id twice in one batch, or
    again later, is accepted and kept once."""
    ids = IdGenerator()
    items = [_item(ids, n) for n in range(20)] + [_item(ids, 3), _item(ids, 7)]
    await asyncio.gather(*(db.write_batched(store_items, item) for item in items))
    await db.write_batched(store_items, _item(ids, 3))
    stored = await db.read(_stored)
    assert sorted(stored) == sorted((item.activity_uri, item.body.decode()) for item in items[:20])


async def test_an_item_that_cannot_be_stored_fails_alone(db: Database) -> None:
    """An item the database refuses (its recipient does not exist) raises to its own
    caller; the items batched with it are stored all the same."""
    ids = IdGenerator()
    good = [_item(ids, n) for n in range(10)]
    bad = _item(ids, 99, recipient_id=424242)
    results = await asyncio.gather(
        *(db.write_batched(store_items, item) for item in [*good[:5], bad, *good[5:]]),
        return_exceptions=True,
    )
    assert isinstance(results[5], IntegrityError)
    assert results[:5] + results[6:] == [None] * 10
    assert sorted(uri for uri, _ in await db.read(_stored)) == sorted(
        item.activity_uri for item in good
    )
    with pytest.raises(IntegrityError):
        await db.write_batched(store_items, bad)
