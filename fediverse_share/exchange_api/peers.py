"""Linked communities: the members' directory and the operators' peering endpoints.

``GET /peers`` shows members every community this one is linked with: its domain, the
link's status, its currency, the rate we post for its currency and, when it has pushed
one, the rate it posts for ours. Operators (``admin:read``/``admin:write``) see more
under ``/admin/peers`` (the clearing account ``peer:<domain>``, its balance and limits,
both consents, and the note that says why a link is frozen or suspended), peer with a
community (``POST``: its handle and the credit limit of the link, the same
`fediverse_share.clearing.peering.add_peer` as ``fediverse-share peer add``), change a
link's status (``PATCH``: active, suspended or ended, told to the peer) and ask the peer
to compare statements (``POST …/reconcile``). POST and PATCH here are idempotent by
nature (peering again sets the same limits); an ``Idempotency-Key`` is checked, not kept.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from activitypub.errors import ActivityPubError
from exchange.money import Currency
from exchange.peers import Link, LinkStatus
from exchange.settings import get_currency
from fediverse_share.clearing import peering, reconcile
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.caller import (
    ADMIN_READ,
    READ,
    path_param,
    read_admin_write,
    require_admin,
    require_member,
    required_str,
    runtime_of,
)
from fediverse_share.exchange_api.render_clearing import render_peer, render_peer_link
from fediverse_share.peer_directory import PeerView, get_peer_view, list_peer_views
from fediverse_share.runtime import Runtime
from fediverse_share.web.errors import status_for

PEER_FIELDS = frozenset({"id", "handle", "credit_limit"})
STATUS_FIELDS = frozenset({"id", "status"})
#: The statuses an operator may set; ``frozen`` comes only from reconciliation.
SETTABLE = {s.value: s for s in (LinkStatus.ACTIVE, LinkStatus.SUSPENDED, LinkStatus.ENDED)}


def _views(conn: Connection, at_us: int) -> tuple[list[PeerView], Currency]:
    return list_peer_views(conn, at_us), get_currency(conn)


def _view(conn: Connection, domain: str, at_us: int) -> tuple[PeerView, Currency]:
    return get_peer_view(conn, domain, at_us), get_currency(conn)


async def show_directory(request: Request) -> Response:
    await require_member(request, *READ)
    views, currency = await runtime_of(request).db.read(_views, now_us())
    return JSONResponse(
        {"currency": currency.code, "peers": [render_peer(view, currency) for view in views]}
    )


async def show_links(request: Request) -> Response:
    await require_admin(request, *ADMIN_READ)
    views, currency = await runtime_of(request).db.read(_views, now_us())
    return JSONResponse({"peers": [render_peer_link(view, currency) for view in views]})


async def _link_response(runtime: Runtime, domain: str) -> dict[str, Any]:
    view, currency = await runtime.db.read(_view, domain, now_us())
    return render_peer_link(view, currency)


async def add_link(request: Request) -> Response:
    body = await read_admin_write(request, PEER_FIELDS)
    handle, limit = required_str(body, "handle"), required_str(body, "credit_limit")
    if not 3 <= len(handle) <= 300:
        raise BadRequest("handle is @name@domain or a URL", code="invalid_handle")
    runtime = runtime_of(request)
    link = await add_peer(runtime, handle, limit)
    return JSONResponse(await _link_response(runtime, link.domain))


async def add_peer(runtime: Runtime, handle: str, credit_limit: str) -> Link:
    """`peering.add_peer`, with a community that cannot be reached refused as 422
    ``peer_unreachable`` (not the fetch's 502: the operator named it)."""
    try:
        return await peering.add_peer(runtime, handle, credit_limit)
    except ActivityPubError as error:
        if status_for(error) < 500:
            raise
        raise Refusal(
            "peer_unreachable", f"could not read that community's clearing: {error.message}"
        ) from None


def parse_status(body: dict[str, Any]) -> LinkStatus:
    status = SETTABLE.get(str(body.get("status")))
    if status is None or not isinstance(body.get("status"), str):
        raise BadRequest("status is active, suspended or ended", code="invalid_request")
    return status


async def change_link(request: Request) -> Response:
    status = parse_status(await read_admin_write(request, STATUS_FIELDS))
    runtime = runtime_of(request)
    domain = path_param(request, "domain")
    await runtime.db.write(peering.set_status, runtime, domain, status)
    return JSONResponse(await _link_response(runtime, domain))


async def reconcile_link(request: Request) -> Response:
    await read_admin_write(request, frozenset({"id"}))
    runtime = runtime_of(request)
    domain = path_param(request, "domain")
    await runtime.db.read(get_peer_view, domain, now_us())  # 404 before any network call
    matched = await reconcile.reconcile_link(runtime, domain)
    peer = await _link_response(runtime, domain)
    return JSONResponse({"domain": domain, "matched": matched, "peer": peer})
