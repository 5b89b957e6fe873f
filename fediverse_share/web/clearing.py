"""Clearing documents: the community's clearing document, posted rates, leg states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from activitypub import signatures
from exchange import clearing, rates
from exchange import clearing_tables as ct
from exchange.clearing import LegState
from exchange.settings import get_currency
from fediverse_share.clearing import directory, wire
from fediverse_share.errors import Forbidden, NotFound
from fediverse_share.federation import keys
from fediverse_share.federation.delivery import domain_of
from fediverse_share.federation.inbox import target_uri
from fediverse_share.runtime import Runtime
from fediverse_share.web.activity_json import ActivityJSONResponse


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def document(request: Request) -> Response:
    runtime = _runtime(request)
    doc = await runtime.db.read(directory.render_document, runtime, runtime.peer_routes)
    return ActivityJSONResponse(doc)


def _rate(conn: Connection, runtime: Runtime, rate_id: str) -> dict[str, Any]:
    rate = rates.get_rate(conn, rate_id)
    actor = runtime.instance.instance_actor_uri
    uri = directory.rate_uri(runtime, rate.id)
    return {
        "@context": wire.CONTEXT,
        **wire.render_rate_quote(uri, actor, rate, get_currency(conn)),
    }


async def rate_quote(request: Request) -> Response:
    runtime = _runtime(request)
    return ActivityJSONResponse(await runtime.db.read(_rate, runtime, request.path_params["id"]))


def _leg_by_ref(conn: Connection, ref: str) -> clearing.Leg:
    row = conn.execute(ct.legs.select().where(ct.legs.c.ref == ref)).first()
    if row is None:
        raise NotFound("no such leg here")
    return clearing.leg_from_row(row)


async def leg_state(request: Request) -> Response:
    """The state of our leg of a transfer, for the communities next to us on its path
    (a signed GET by their instance actor): with the fulfilment once committed."""
    runtime = _runtime(request)
    verified = await signatures.verify_request(
        method="GET",
        target_uri=target_uri(runtime, request),
        headers=request.headers,
        body=b"",
        resolve_key=keys.resolver(runtime),
    )
    leg = await runtime.db.read(_leg_by_ref, request.path_params["ref"])
    if domain_of(verified.owner) not in (leg.upstream_domain, leg.downstream_domain):
        raise Forbidden("only the communities next to this one on the path may ask")
    currency = await runtime.db.read(get_currency)
    body: dict[str, Any] = {"transfer": leg.transfer_id, "state": leg.state.value}
    if leg.state in (LegState.COMMITTED, LegState.IN_DOUBT):
        body["fulfilment"] = leg.fulfilment
        body["gross"] = wire.render_money(leg.gross_minor, currency)
    return JSONResponse(body)


def routes() -> list[BaseRoute]:
    return [
        Route("/clearing", document),
        Route("/clearing/rates/{id}", rate_quote),
        Route("/clearing/legs/{ref}", leg_state),
    ]
