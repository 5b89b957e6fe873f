"""Creating a listing at most once per ``Idempotency-Key``.

The key is the member's own: ``listing_keys`` maps (member, key) to the listing it
made and a SHA-256 of the request body. The same key with the same body returns that
listing and sends nothing; with another body it is a 409 ``idempotency_conflict``.
The key's row is written first, under the id the listing will have, so two requests
racing with one key make one listing: the second waits for the first's row and then
replays it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import Connection, select

from exchange.settings import get_currency
from fediverse_share import tables
from fediverse_share.errors import Conflict
from fediverse_share.listings import store
from fediverse_share.listings.model import Listing, get_listing, parse_draft
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore


def request_digest(body: dict[str, Any]) -> str:
    """The body's SHA-256, keys sorted; ``id`` (the key itself) left out."""
    fields = {name: value for name, value in body.items() if name != "id"}
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _find(conn: Connection, user_id: int, key: str) -> tuple[int, str] | None:
    k = tables.listing_keys
    row = conn.execute(
        select(k.c.listing_id, k.c.request_sha256).where(k.c.user_id == user_id, k.c.key == key)
    ).first()
    return None if row is None else (row.listing_id, row.request_sha256)


def _replay(conn: Connection, found: tuple[int, str], digest: str) -> Listing:
    listing_id, stored = found
    if stored != digest:
        raise Conflict(
            "this Idempotency-Key was used for another listing", code="idempotency_conflict"
        )
    return get_listing(conn, listing_id)


def create_listing(
    conn: Connection,
    runtime: Runtime,
    member: Member,
    body: dict[str, Any],
    key: str | None,
    at_us: int,
) -> Listing:
    """Parse and publish the member's listing, once per key; raises typed errors."""
    digest = request_digest(body)
    if key is not None and (found := _find(conn, member.user_id, key)) is not None:
        return _replay(conn, found, digest)
    draft = parse_draft(body, get_currency(conn), at_us)
    listing_id = runtime.ids.next_id()
    if key is not None:
        row = {"user_id": member.user_id, "key": key, "listing_id": listing_id,
               "request_sha256": digest, "created_at_us": at_us}  # fmt: skip
        insert_or_ignore(conn, tables.listing_keys, [row])
        found = _find(conn, member.user_id, key)
        if found is not None and found[0] != listing_id:  # another request won the race
            return _replay(conn, found, digest)
    return store.publish_listing(conn, runtime, member.actor_id, draft, listing_id)
