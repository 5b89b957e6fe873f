"""The rates this community posts for its peers' currencies (operators only).

``GET /admin/rates`` lists the version of each quote valid now; ``POST /admin/rates``
posts a new version (`fediverse_share.clearing.peering.post_rate`, as ``fediverse-share
rates set`` does) and pushes it to every active peer. A transfer that cites a version
is honoured at it until its validity ends, so a new version never changes a quote
already given. Posting the terms of the current version again within
`peer_directory.REPOST_WINDOW_US` of it returns that version instead of a new one, so a
retried request (with its ``Idempotency-Key``) posts once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange.money import Currency
from exchange.rates import PostedRate, list_rates
from exchange.settings import get_currency
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.caller import (
    ADMIN_READ,
    optional_str,
    read_admin_write,
    require_admin,
    required_str,
    runtime_of,
)
from fediverse_share.exchange_api.render_clearing import render_posted_rate
from fediverse_share.peer_directory import DEFAULT_VALID_HOURS, RateTerms, post_rate_once

RATE_FIELDS = frozenset({"id", "peer_currency", "rate", "fee_bps", "valid_hours", "max_amount"})


def _rates(conn: Connection, at_us: int) -> tuple[list[PostedRate], Currency]:
    return list_rates(conn, at_us), get_currency(conn)


async def show_rates(request: Request) -> Response:
    await require_admin(request, *ADMIN_READ)
    posted, currency = await runtime_of(request).db.read(_rates, now_us())
    return JSONResponse({"rates": [render_posted_rate(rate, currency) for rate in posted]})


def parse_terms(body: dict[str, Any]) -> RateTerms:
    fee = body.get("fee_bps", 0)
    if type(fee) is not int:
        raise BadRequest("fee_bps is a whole number of basis points", code="invalid_request")
    return RateTerms(
        peer_currency=required_str(body, "peer_currency"),
        rate=required_str(body, "rate"),
        fee_bps=fee,
        valid_hours=body.get("valid_hours", DEFAULT_VALID_HOURS),
        max_amount=optional_str(body, "max_amount") or None,
    )


async def post_rate(request: Request) -> Response:
    terms = parse_terms(await read_admin_write(request, RATE_FIELDS))
    runtime = runtime_of(request)
    rate, currency = await runtime.db.write(post_rate_once, runtime, terms)
    return JSONResponse(render_posted_rate(rate, currency), status_code=201)
