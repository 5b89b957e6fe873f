"""The operators' endpoints: ledger settings, members' limits, the audit and the export.

Only members marked as operators (``user add --admin``) may call them, with a token
holding ``admin:read`` (reads) or ``admin:write`` (changes); anybody else gets a 403.
A PATCH sets the fields it names and leaves the rest as they are, so sending it again
changes nothing more: it is idempotent by its nature, and an ``Idempotency-Key`` header
or ``id`` is checked but need not be kept. Peers and posted rates (clearing, DESIGN §5)
are in `fediverse_share.exchange_api.peers` and `fediverse_share.exchange_api.rates`.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange.accounts import Account, get_account, set_limits
from exchange.audit import Severity, audit
from exchange.errors import InvalidSettings
from exchange.export import write_ledger_csv
from exchange.money import Currency, parse_amount
from exchange.periods import Period
from exchange.settings import (
    LedgerSettings,
    get_currency,
    get_settings,
    parse_reputation_threshold,
    update_settings,
)
from fediverse_share.clock import now_us
from fediverse_share.exchange_api.accounts import CSV_TYPE
from fediverse_share.exchange_api.caller import (
    ADMIN_READ,
    ADMIN_WRITE,
    idempotency_key,
    path_param,
    read_object,
    reject_unknown_fields,
    require_admin,
    runtime_of,
)
from fediverse_share.exchange_api.render import render_account, render_problem, render_settings
from fediverse_share.members import get_member

#: Wire name → `LedgerSettings` field, for the settings that are amounts.
SETTINGS_AMOUNTS = {
    "default_credit_limit": "default_credit_limit_minor",
    "default_soft_limit": "default_soft_limit_minor",
    "default_upper_limit": "default_upper_limit_minor",
    "issuance_allowance": "issuance_allowance_minor",
    "demurrage_free_threshold": "demurrage_free_threshold_minor",
}
SETTINGS_BPS = ("issuance_copay_bps", "demurrage_rate_bps")
SETTINGS_FIELDS = frozenset(
    {"id", *SETTINGS_AMOUNTS, *SETTINGS_BPS, "issuance_reputation_threshold", "demurrage_period"}
)
LIMIT_FIELDS = {
    "credit_limit": "credit_limit_minor",
    "soft_limit": "soft_limit_minor",
    "upper_limit": "upper_limit_minor",
}
_NULLABLE = frozenset({"default_upper_limit", *LIMIT_FIELDS})


def parse_limit(body: dict[str, Any], name: str, currency: Currency) -> int | None:
    """An amount field of a PATCH; ``null`` only where "no limit" makes sense."""
    value = body[name]
    if value is None and name in _NULLABLE:
        return None
    if not isinstance(value, str):
        raise InvalidSettings(f"{name} is a decimal string" + (" or null" * (name in _NULLABLE)))
    return parse_amount(value, currency)


def parse_settings_patch(
    body: dict[str, Any], current: LedgerSettings, currency: Currency
) -> LedgerSettings:
    """The settings after a PATCH; raises `InvalidSettings` and `InvalidAmount`."""
    changes: dict[str, Any] = {}
    for name, field in SETTINGS_AMOUNTS.items():
        if name in body:
            changes[field] = parse_limit(body, name, currency)
    for name in SETTINGS_BPS:
        if name in body:
            if type(body[name]) is not int:
                raise InvalidSettings(f"{name} is a whole number of basis points")
            changes[name] = body[name]
    if "issuance_reputation_threshold" in body:
        raw = body["issuance_reputation_threshold"]
        if not isinstance(raw, str) or len(raw) > 40:
            raise InvalidSettings("issuance_reputation_threshold is a decimal string")
        changes["issuance_reputation_threshold"] = parse_reputation_threshold(raw)
    if "demurrage_period" in body:
        if body["demurrage_period"] not in tuple(Period):
            raise InvalidSettings("demurrage_period is day or month")
        changes["demurrage_period"] = Period(body["demurrage_period"])
    return dataclasses.replace(current, **changes)


def _settings(conn: Connection) -> tuple[LedgerSettings, Currency]:
    return get_settings(conn), get_currency(conn)


def _update_settings(
    conn: Connection, body: dict[str, Any], at_us: int
) -> tuple[LedgerSettings, Currency]:
    currency = get_currency(conn)
    wanted = parse_settings_patch(body, get_settings(conn), currency)
    return update_settings(conn, wanted, at_us), currency


async def show_settings(request: Request) -> Response:
    await require_admin(request, *ADMIN_READ)
    settings, currency = await runtime_of(request).db.read(_settings)
    return JSONResponse(render_settings(settings, currency))


async def change_settings(request: Request) -> Response:
    await require_admin(request, *ADMIN_WRITE)
    body = await read_object(request)
    reject_unknown_fields(body, SETTINGS_FIELDS)
    idempotency_key(request, body)
    db = runtime_of(request).db
    settings, currency = await db.write(_update_settings, body, now_us())
    return JSONResponse(render_settings(settings, currency))


def _set_limits(
    conn: Connection, username: str, body: dict[str, Any], at_us: int
) -> tuple[Account, Currency]:
    member = get_member(conn, username)
    currency = get_currency(conn)
    current = get_account(conn, member.username).limits
    changes = {
        field: parse_limit(body, name, currency)
        for name, field in LIMIT_FIELDS.items()
        if name in body
    }
    limits = dataclasses.replace(current, **changes)
    return set_limits(conn, member.username, limits, at_us), currency


async def change_limits(request: Request) -> Response:
    await require_admin(request, *ADMIN_WRITE)
    body = await read_object(request)
    reject_unknown_fields(body, frozenset({"id", *LIMIT_FIELDS}))
    idempotency_key(request, body)
    runtime = runtime_of(request)
    username = path_param(request, "username")
    account, currency = await runtime.db.write(_set_limits, username, body, now_us())
    return JSONResponse(render_account(account, currency, runtime.instance.domain))


async def show_audit(request: Request) -> Response:
    await require_admin(request, *ADMIN_READ)
    problems = await runtime_of(request).db.read(audit, now_us())
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    return JSONResponse(
        {
            "ok": errors == 0,
            "errors": errors,
            "warnings": len(problems) - errors,
            "problems": [render_problem(p) for p in problems],
        }
    )


def _ledger_csv(conn: Connection) -> str:
    out = io.StringIO()
    write_ledger_csv(conn, out)
    return out.getvalue()


async def export_ledger(request: Request) -> Response:
    await require_admin(request, *ADMIN_READ)
    text = await runtime_of(request).db.read(_ledger_csv)
    disposition = 'attachment; filename="ledger.csv"'
    return Response(text, media_type=CSV_TYPE, headers={"Content-Disposition": disposition})
