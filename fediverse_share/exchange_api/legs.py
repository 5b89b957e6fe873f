"""Clearing legs in doubt, for operators: ``GET /admin/clearing/in-doubt`` lists the legs
a downstream community committed after our holds had expired, and ``POST
/admin/clearing/in-doubt`` books one of them late (`exchange.in_doubt.book_late`, as
``fediverse-share peer book-late`` does) once the operator has checked with the peers.
Booking a leg that is already committed changes nothing and answers it again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange import in_doubt
from exchange.clearing import Leg
from exchange.money import Currency
from exchange.settings import get_currency
from fediverse_share.clock import render_iso_millis
from fediverse_share.exchange_api.caller import (
    ADMIN_READ,
    read_admin_write,
    require_admin,
    required_str,
    runtime_of,
)
from fediverse_share.exchange_api.render_clearing import render_money

BOOK_FIELDS = frozenset({"id", "transfer"})


def render_leg_in_doubt(leg: Leg, ours: Currency) -> dict[str, Any]:
    return {
        "transfer": leg.transfer_id,
        "state": leg.state.value,
        "path": list(leg.path),
        "amount": render_money(leg.out_minor, ours),
        "fee": render_money(leg.fee_minor, ours),
        "debit_account": leg.debit_account_id,
        "credit_account": leg.credit_account_id,
        "memo": leg.memo,
        "expired_at": render_iso_millis(leg.expires_at_us),
    }


async def show_in_doubt(request: Request) -> Response:
    await require_admin(request, *ADMIN_READ)
    db = runtime_of(request).db
    legs, currency = await db.read(in_doubt.list_in_doubt), await db.read(get_currency)
    return JSONResponse({"legs": [render_leg_in_doubt(leg, currency) for leg in legs]})


async def book_late(request: Request) -> Response:
    transfer = required_str(await read_admin_write(request, BOOK_FIELDS), "transfer")
    runtime = runtime_of(request)
    leg = await runtime.db.write(in_doubt.book_late, transfer, runtime.now_us())
    currency = await runtime.db.read(get_currency)
    return JSONResponse(render_leg_in_doubt(leg, currency))
