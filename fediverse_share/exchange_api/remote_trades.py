"""A trade proposed on another community's listing (``POST /trades`` with ``listing_uri``).

The listing must be one this server already holds (it arrived through a community this
server follows). Its terms follow from the listing (`fediverse_share.trades.negotiation`):
the caller's server records the trade and sends FEP-0837 ``Offer(Agreement)`` to the
listing's author, whose server answers with ``Accept`` or ``Reject``. The trade is
``<username>:<key>``, so the same key again returns it and sends nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request

from fediverse_share.errors import NotFound
from fediverse_share.exchange_api.caller import (
    idempotency_key,
    optional_str,
    reject_unknown_fields,
    required_str,
    runtime_of,
)
from fediverse_share.members import Member
from fediverse_share.trades import negotiation
from fediverse_share.trades.errors import ListingNotTradable

REMOTE_FIELDS = frozenset({"id", "listing_uri", "return_due_at"})


def _check_listing(conn: Connection, uri: str) -> None:
    row = negotiation.find_listing_row(conn, uri)
    if row is None:
        raise NotFound("no listing with this uri is known here", code="unknown_listing")
    if row["local"]:
        raise ListingNotTradable(
            "this is a listing of this community: propose with `with` and `listing`"
        )


async def propose_on_remote_listing(
    request: Request, member: Member, body: dict[str, Any], due_us: int | None
) -> str:
    """Propose the trade; its id."""
    reject_unknown_fields(body, REMOTE_FIELDS)
    runtime = runtime_of(request)
    key = idempotency_key(request, body) or str(runtime.ids.next_id())
    uri = required_str(body, "listing_uri")[:2048]
    await runtime.db.read(_check_listing, uri)
    trade = await negotiation.propose_on_listing(
        runtime, member, uri, key=key, return_due_us=due_us
    )
    return trade.id


def due_of(body: dict[str, Any]) -> str | None:
    return optional_str(body, "return_due_at", "") or None
