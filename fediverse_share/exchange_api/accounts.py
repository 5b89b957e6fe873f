"""The community's currency, and the caller's account and statement.

Statements are pages of entries, newest first. A page's ``next_cursor`` (also sent as a
``Link: <…>; rel="next"`` header) fetches the next, older page; cursors are stable
however many transfers arrive meanwhile (`exchange.statements`). The CSV export holds
the whole statement, oldest first (`exchange.export`). Entries of payments between
communities show their clearing leg (`fediverse_share.exchange_api.statements`).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange.accounts import Account, get_account
from exchange.clearing import Leg
from exchange.export import write_statement_csv
from exchange.money import Currency
from exchange.settings import get_currency
from exchange.statements import MAX_PAGE, StatementPage, get_statement
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.caller import READ, require_member, runtime_of
from fediverse_share.exchange_api.render import render_account, render_currency
from fediverse_share.exchange_api.statements import find_legs, render_statement

DEFAULT_PAGE = 50
CSV_TYPE = "text/csv; charset=utf-8"


async def show_currency(request: Request) -> Response:
    currency = await runtime_of(request).db.read(get_currency)
    return JSONResponse(render_currency(currency))


def _account(conn: Connection, account_id: str) -> tuple[Account, Currency]:
    return get_account(conn, account_id), get_currency(conn)


async def show_my_account(request: Request) -> Response:
    member = await require_member(request, *READ)
    runtime = runtime_of(request)
    account, currency = await runtime.db.read(_account, member.username)
    return JSONResponse(render_account(account, currency, runtime.instance.domain))


def parse_page_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE):
        raise BadRequest(f"limit is a whole number from 1 to {MAX_PAGE}", code="invalid_limit")
    return int(raw)


def parse_cursor_param(raw: str | None) -> str | None:
    """A statement cursor as the API takes it: up to 18 digits (a database integer)."""
    if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise BadRequest("cursor is the next_cursor of a previous page", code="invalid_cursor")
    return raw


def _statement(
    conn: Connection, account_id: str, limit: int, cursor: str | None
) -> tuple[StatementPage, Currency, dict[str, Leg]]:
    page = get_statement(conn, account_id, limit=limit, cursor=cursor)
    return page, get_currency(conn), find_legs(conn, page)


async def show_my_statement(request: Request) -> Response:
    member = await require_member(request, *READ)
    limit = parse_page_limit(request.query_params.get("limit"))
    cursor = parse_cursor_param(request.query_params.get("cursor"))
    runtime = runtime_of(request)
    page, currency, legs = await runtime.db.read(_statement, member.username, limit, cursor)
    headers = {}
    if page.next_cursor is not None:
        query = urlencode({"limit": limit, "cursor": page.next_cursor})
        url = f"{runtime.instance.base_url}{request.url.path}?{query}"
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(render_statement(page, currency, legs), headers=headers)


def _statement_csv(conn: Connection, account_id: str) -> str:
    out = io.StringIO()
    write_statement_csv(conn, account_id, out)
    return out.getvalue()


async def export_my_statement(request: Request) -> Response:
    member = await require_member(request, *READ)
    text = await runtime_of(request).db.read(_statement_csv, member.username)
    disposition = f'attachment; filename="statement-{member.username}.csv"'
    return Response(text, media_type=CSV_TYPE, headers={"Content-Disposition": disposition})
