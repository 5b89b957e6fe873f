"""Remote actors: fetched on demand (signed by our instance actor), cached in ``actors``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, RowMapping, select, update

from activitypub.objects import Actor, parse_actor
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.federation.fetching import fetch_json
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore

#: How long a cached actor document is trusted before a refetch (keys rotate rarely).
MAX_AGE_US = 24 * 3600 * 1_000_000


def find_actor(conn: Connection, uri: str) -> RowMapping | None:
    return conn.execute(select(tables.actors).where(tables.actors.c.uri == uri)).mappings().first()


def find_actor_by_key_id(conn: Connection, key_id: str) -> RowMapping | None:
    a = tables.actors
    return conn.execute(select(a).where(a.c.key_id == key_id)).mappings().first()


async def get_actor(runtime: Runtime, uri: str, *, refresh: bool = False) -> RowMapping:
    """The actor at ``uri``: from the cache if fresh, else fetched and stored."""
    row = await runtime.db.read(find_actor, uri)
    if row is not None and (row["local"] or (not refresh and _fresh(row))):
        return row
    document = await fetch_json(runtime, uri)
    parsed = parse_actor(document)
    return await runtime.db.write(store_actor, runtime, parsed, document)


def _fresh(row: RowMapping) -> bool:
    fetched = row["fetched_at_us"] or 0
    return now_us() - fetched < MAX_AGE_US and not row["gone"]


def _values(actor: Actor, document: dict[str, Any]) -> dict[str, Any]:
    key = actor.public_keys[0] if actor.public_keys else None
    return {
        "type": actor.type,
        "username": actor.preferred_username.lower(),
        "domain": urlsplit(actor.id).netloc.lower(),
        "name": actor.name or "",
        "summary": actor.summary or "",
        "url": actor.url,
        "icon_url": actor.icon_url,
        "inbox": actor.inbox,
        "outbox": actor.outbox,
        "shared_inbox": actor.shared_inbox,
        "followers_url": actor.followers,
        "following_url": actor.following,
        "key_id": key.id if key else None,
        "public_key_pem": key.pem if key else None,
        "manually_approves_followers": actor.manually_approves_followers,
        "discoverable": actor.discoverable,
        "fetched_at_us": now_us(),
        "gone": False,
        "document": orjson.dumps(document).decode(),
    }


def store_actor(
    conn: Connection, runtime: Runtime, actor: Actor, document: dict[str, Any]
) -> RowMapping:
    a = tables.actors
    values = _values(actor, document)
    existing = find_actor(conn, actor.id)
    if existing is not None:
        if existing["local"]:
            return existing
        conn.execute(update(a).where(a.c.id == existing["id"]).values(**values))
    else:
        clash = conn.execute(
            select(a.c.id).where(a.c.username == values["username"], a.c.domain == values["domain"])
        ).first()
        if clash is not None:
            # Same handle, new id: the old actor is gone (account re-created).
            conn.execute(update(a).where(a.c.id == clash.id).values(username=f"~{clash.id}"))
        new = {"id": runtime.ids.next_id(), "uri": actor.id, "local": False, **values}
        if not insert_or_ignore(conn, a, [new]):
            # Another request stored the same actor meanwhile (two inbox POSTs from a
            # new actor at once, on PostgreSQL): ours is as fresh, keep it.
            conn.execute(
                update(a).where(a.c.uri == actor.id, a.c.local.is_(False)).values(**values)
            )
    row = find_actor(conn, actor.id)
    assert row is not None
    return row


def mark_gone(conn: Connection, uri: str) -> None:
    a = tables.actors
    conn.execute(update(a).where(a.c.uri == uri, a.c.local.is_(False)).values(gone=True))
