"""What federation keeps about a cross-community trade besides its exchange record.

The activities of a negotiation are kept in ``activities``: ours as we sent them, the
others' as they arrived (``local`` false), with ``object_uri`` the Agreement's id. So
the Offer we received is found again when our member answers it, an ``Accept`` is
recognised as answering one of our Offers, and a receipt is found by its Agreement.
"""

from __future__ import annotations

from urllib.parse import quote

import orjson
from sqlalchemy import Connection, RowMapping, select

from activitypub.objects import Activity
from exchange.trade_terms import Trade
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.federation import publish
from fediverse_share.members import get_member
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore


def remember(
    conn: Connection, runtime: Runtime, activity: Activity, actor_id: int, agreement_uri: str
) -> None:
    """Keep a received activity of a trade (once per activity id)."""
    row = {
        "id": runtime.ids.next_id(),
        "uri": activity.id,
        "actor_id": actor_id,
        "type": activity.type,
        "object_uri": agreement_uri,
        "public": False,
        "local": False,
        "published_at_us": now_us(),
        "document": orjson.dumps(activity.raw).decode(),
    }
    insert_or_ignore(conn, tables.activities, [row])


def find_our_offer(conn: Connection, offer_uri: str) -> str | None:
    """The Agreement of an Offer we sent, by the Offer's id."""
    a = tables.activities
    query = select(a.c.object_uri).where(a.c.uri == offer_uri, a.c.type == "Offer", a.c.local)
    found: str | None = conn.execute(query).scalar()
    return found


def find_received(conn: Connection, agreement_uri: str, kind: str) -> RowMapping | None:
    """The first activity of ``kind`` received about an Agreement."""
    a = tables.activities
    query = (
        select(a)
        .where(a.c.object_uri == agreement_uri, a.c.type == kind, a.c.local.is_(False))
        .order_by(a.c.id)
    )
    row: RowMapping | None = conn.execute(query).mappings().first()
    return row


def remote_party(trade: Trade) -> str:
    """The actor URI of the trade's party on another server."""
    party = trade.receiver if trade.receiver.is_remote else trade.provider
    return str(party.actor_uri)


def local_actor(conn: Connection, trade: Trade) -> RowMapping:
    """The actor row of the trade's party who is a member here."""
    party = trade.provider if trade.receiver.is_remote else trade.receiver
    member = get_member(conn, str(party.account_id))
    return publish.local_actor(conn, member.actor_id)


def trade_base(runtime: Runtime, trade: Trade) -> str:
    """Where the ids of the objects we publish about a trade start."""
    return f"{runtime.instance.base_url}/trades/{quote(trade.id, safe='')}"
