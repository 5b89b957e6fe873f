"""Every operation of the exchange API, declared once; the router and the document.

`OPERATIONS` is the one list. `routes` turns it into Starlette routes and
`render_openapi` into the OpenAPI 3.1 document served at
``/api/exchange/v1/openapi.json``, so they cannot disagree about paths, methods or
who may call what. The request and response schemas are `schemas.COMPONENTS`; tests
check live responses against them (schemathesis included).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from exchange.statements import MAX_PAGE
from exchange.trade_machine import Action
from fediverse_share.exchange_api import (
    accounts,
    admin,
    clearing_operations,
    clearing_schemas,
    cross_payments,
    listing_lookup,
    listing_schemas,
    listings,
    payments,
    reviews,
    schemas,
    trade_schemas,
    trades,
)
from fediverse_share.exchange_api.caller import runtime_of
from fediverse_share.exchange_api.listing_queries import LISTING_ID, PAGE, SEARCH
from fediverse_share.exchange_api.schemas import ref
from fediverse_share.exchange_api.spec import CSV, IDEMPOTENCY_KEY, Access, Operation, Param
from fediverse_share.exchange_api.spec import operation as _op

VERSION = "1.0.0"
DESCRIPTION = """\
The community's mutual-credit ledger: its currency, members' accounts and statements,
payments between members, trades with their reviews and reputation, and the
operators' settings.

Amounts are decimal strings in the currency's units (`"12.50"`) beside a `currency`
code, never floats. Every write accepts an `Idempotency-Key` header (or an `id` in the
body): repeating it with the same body returns the same result and changes nothing;
with another body it is a 409 `idempotency_conflict`. Errors are `{"error", "code"}`.

Authentication: OAuth 2 bearer tokens from this server's `/oauth/token` (the same ones
Mastodon clients use). Reads need the `read` (or `read:accounts`) scope, writes `write`,
operators' endpoints `admin:read` or `admin:write` and a member marked as an operator.

Listings (offers and needs) of every community this server knows can be searched and
read without a token; members publish, edit, withdraw and illustrate their own, and
may propose a trade on another community's listing.

Payments reach members of other communities (`to` is `acct:name@domain`) through
clearing between linked communities: the quote says what it costs here, in this
community's currency, for the amount the payee receives in theirs, with the path and
the rates each community on it cites. `GET /peers` lists the linked communities;
operators manage the peers and posted rates under `/admin/peers` and `/admin/rates`.
"""

PAYMENT_ID = Param("payment_id", "path", {"type": "string", "minLength": 1}, "the payment's id")
TRADE_ID = Param("trade_id", "path", {"type": "string", "minLength": 1}, "the trade's id")
HANDLE = Param(
    "handle", "path", {"type": "string", "minLength": 1},
    "a member of this community: name or acct:name@domain",
)  # fmt: skip
USERNAME = Param("username", "path", {"type": "string", "minLength": 1}, "a member's username")
LIMIT = Param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    f"entries per page (default {accounts.DEFAULT_PAGE})",
)  # fmt: skip
CURSOR = Param(
    "cursor", "query", {"type": "string", "pattern": "^[0-9]{1,18}$"},
    "the next_cursor of the previous page",
)  # fmt: skip


async def show_openapi(request: Request) -> Response:
    return JSONResponse(render_openapi(runtime_of(request).instance.base_url))


_SETS = (
    "Sets the fields it names and keeps the others, so repeating it changes nothing more;"
    " a limit of null means no such limit."
)


#: The steps of a trade: (path segment, action, body schema, who takes it).
_STEPS = (
    ("accept", Action.ACCEPT, "TradeStepRequest", "the party who did not propose"),
    ("decline", Action.DECLINE, "TradeReasonRequest", "the party who did not propose"),
    ("deliver", Action.DELIVER, "TradeStepRequest", "the provider (in a swap, each side)"),
    ("confirm", Action.CONFIRM, "TradeStepRequest", "the receiver (in a swap, each side)"),
    ("pay", Action.PAY, "TradePaymentRequest", "the payer, once delivery is confirmed"),
    ("cancel", Action.CANCEL, "TradeReasonRequest",
     "the proposer before agreement, either party after it (with a reason)"),
    ("returned", Action.RETURN, "TradeStepRequest",
     "the provider of a loan or rental, when it is back"),
)  # fmt: skip


def _step_operation(segment: str, action: Action, body: str, who: str) -> Operation:
    return _op(
        "POST", f"/trades/{{trade_id}}/{segment}", trades.step_endpoint(action),
        f"trade{segment.title()}", f"{segment.title()}: taken by {who}", Access.WRITE,
        response="Trade", body=body, params=(TRADE_ID, IDEMPOTENCY_KEY), errors=(409, 422),
    )  # fmt: skip


OPERATIONS: tuple[Operation, ...] = (
    _op("GET", "/openapi.json", show_openapi, "getOpenApi",
        "This document", Access.PUBLIC, response=None),
    _op("GET", "/currency", accounts.show_currency, "getCurrency",
        "The community's currency", Access.PUBLIC, response="Currency"),
    _op("GET", "/accounts/me", accounts.show_my_account, "getMyAccount",
        "The caller's balance, holds, limits and issuance allowance", Access.READ,
        response="Account"),
    _op("GET", "/accounts/me/statement", accounts.show_my_statement, "getMyStatement",
        "The caller's statement, newest first, a page at a time", Access.READ,
        response="StatementPage", params=(LIMIT, CURSOR),
        headers={"Link": 'the next page, as <URL>; rel="next", when there is one'}),
    _op("GET", "/accounts/me/statement.csv", accounts.export_my_statement,
        "exportMyStatement", "The caller's whole statement as CSV, oldest first",
        Access.READ, media_type=CSV),
    _op("POST", "/payments/quote", payments.create_quote, "quotePayment",
        "What a payment will cost and how it would travel", Access.READ,
        response="Quote", body="QuoteRequest", params=(IDEMPOTENCY_KEY,), errors=(404, 422),
        description="Changes nothing here, so it needs only a read scope. "
        + cross_payments.QUOTE_DOC),
    _op("POST", "/payments", payments.create_payment, "createPayment",
        "Pay a member of this community or of another", Access.WRITE, response="Payment",
        status=201, body="PaymentRequest", params=(IDEMPOTENCY_KEY,), errors=(404, 409, 422),
        headers={"Location": "the payment's URL"},
        description=cross_payments.PAY_DOC),
    _op("GET", "/payments/{payment_id}", payments.show_payment, "getPayment",
        "A payment the caller made or received: state and legs", Access.READ,
        response="Payment", params=(PAYMENT_ID,),
        description=cross_payments.SHOW_DOC),
    *clearing_operations.DIRECTORY,
    _op("GET", "/listings", listings.search_listings, "searchListings",
        "Search the listings of every community this server knows, best first",
        Access.PUBLIC, response="ListingPage", params=SEARCH, errors=(401,),
        description="Anonymous, or with any valid token. Without `q`, newest first. "
        "Withdrawn and expired listings are left out."),
    _op("POST", "/listings", listings.create_listing, "createListing",
        "Publish an offer or a need (sent to the fediverse, announced by the community)",
        Access.WRITE, response="ListingDetail", status=201, body="ListingRequest",
        params=(IDEMPOTENCY_KEY,), errors=(409,), headers={"Location": "the listing's URL"},
        description="A price is for rent, sell and service listings, in the community's "
        "currency."),
    _op("GET", "/listings/matches", listings.show_matches, "getMyMatches",
        "Listings that complement the caller's (offer and need), newest first", Access.READ,
        response="MatchPage", params=PAGE),
    _op("GET", "/listings/lookup", listing_lookup.lookup_listings, "lookupListings",
        "Fetch the listings a handle or URL names now (an actor's, or one listing)",
        Access.READ, response="ListingPage", params=(listing_lookup.FROM,), errors=(404, 502),
        description="`from` is an actor's handle or URL (its outbox is read: a member's "
        "listings, or those a community announced) or one listing's URL. What is fetched "
        "is stored as if it had come to the inbox (searchable, matched); the active "
        "listings are answered. Members only, as it makes this server fetch."),
    _op("GET", "/listings/{listing_id}", listings.show_listing, "getListing",
        "Any listing this server knows, of this community or another", Access.PUBLIC,
        response="ListingDetail", params=(LISTING_ID,), errors=(401,),
        description="Anonymous, or with any valid token."),
    _op("PATCH", "/listings/{listing_id}", listings.edit_listing, "updateListing",
        "Edit one's listing (sent as an Update)", Access.WRITE, response="ListingDetail",
        body="ListingPatch", params=(LISTING_ID, IDEMPOTENCY_KEY),
        description="Sets the fields it names and keeps the others; a price of null "
        "removes the price, an expires_at of null the expiry."),
    _op("DELETE", "/listings/{listing_id}", listings.withdraw_listing, "withdrawListing",
        "Withdraw one's listing (sent as a Delete); repeating it changes nothing",
        Access.WRITE, response="ListingDetail", params=(LISTING_ID,)),
    _op("POST", "/listings/{listing_id}/photos", listings.add_photo, "addListingPhoto",
        "Add a photo to one's listing (at most 4; shown on the fediverse)", Access.WRITE,
        response="ListingDetail", status=201, body="PhotoUpload",
        body_media_type="multipart/form-data", params=(LISTING_ID, IDEMPOTENCY_KEY),
        headers={"Location": "the listing's URL"},
        description="JPEG, PNG, WebP or GIF, judged by the bytes, at most 16 MiB."),
    _op("POST", "/trades", trades.propose_trade, "proposeTrade",
        "Propose a trade about a listing to another member", Access.WRITE,
        response="Trade", status=201, body="TradeProposal", params=(IDEMPOTENCY_KEY,),
        errors=(404, 409, 422), headers={"Location": "the trade's URL"},
        description="With a member here: `TradeRequest`. On another community's listing "
        "this server knows: `RemoteTradeRequest` with its `listing_uri`; the trade's terms "
        "follow from the listing (FEP-0837 `Offer(Agreement)` goes to its author's server, "
        "who accepts or declines there). Its price is paid through clearing when the "
        "communities have a clearing path, else noted as paid outside the ledger: see "
        "the trade's `settlement` and `clearing`."),
    _op("GET", "/trades/{trade_id}", trades.show_trade, "getTrade",
        "A trade of the caller's: state, history and the reviews they may see",
        Access.READ, response="Trade", params=(TRADE_ID,)),
    *(_step_operation(*step) for step in _STEPS),
    _op("POST", "/trades/{trade_id}/review", reviews.review_trade, "reviewTrade",
        "Review the other party of a settled trade, once", Access.WRITE,
        response="Review", status=201, body="ReviewRequest",
        params=(TRADE_ID, IDEMPOTENCY_KEY), errors=(409, 422)),
    _op("GET", "/members/{handle}/reputation", reviews.show_reputation, "getReputation",
        "A member's reputation and the visible reviews it rests on", Access.READ,
        response="Reputation", params=(HANDLE,), errors=(400, 422)),
    _op("GET", "/admin/settings", admin.show_settings, "getLedgerSettings",
        "The community's ledger settings", Access.ADMIN_READ, response="LedgerSettings"),
    _op("PATCH", "/admin/settings", admin.change_settings, "updateLedgerSettings",
        "Change some ledger settings", Access.ADMIN_WRITE, response="LedgerSettings",
        body="LedgerSettingsPatch", params=(IDEMPOTENCY_KEY,), description=_SETS),
    _op("PATCH", "/admin/accounts/{username}/limits", admin.change_limits,
        "updateMemberLimits", "Change a member's credit, soft and upper limits",
        Access.ADMIN_WRITE, response="Account", body="LimitsPatch",
        params=(USERNAME, IDEMPOTENCY_KEY), description=_SETS),
    _op("GET", "/admin/audit", admin.show_audit, "getLedgerAudit",
        "Check every ledger invariant", Access.ADMIN_READ, response="AuditReport"),
    _op("GET", "/admin/ledger.csv", admin.export_ledger, "exportLedger",
        "Every transfer of the ledger as CSV", Access.ADMIN_READ, media_type=CSV),
    *clearing_operations.ADMIN,
)  # fmt: skip


def routes() -> list[BaseRoute]:
    return [
        Route(op.path, op.endpoint, methods=[op.method], name=op.operation_id) for op in OPERATIONS
    ]


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _ERROR_TEXT.get(status, "error"),
        "content": {"application/json": {"schema": ref("Error")}},
    }


_ERROR_TEXT = {
    400: "malformed or invalid request",
    401: "no token, or not a valid one",
    403: "the token lacks the scope, or the caller is not an operator",
    404: "not found (or not the caller's to see)",
    409: "the idempotency key was used with another request",
    413: "the body is too large",
    422: "a well-formed request the ledger refuses (or an app token where a member's is needed)",
}


def _success(op: Operation) -> dict[str, Any]:
    if op.response is None:
        schema: dict[str, Any] = {"type": "string"} if op.media_type == CSV else {"type": "object"}
    else:
        schema = ref(op.response)
    success: dict[str, Any] = {
        "description": op.summary,
        "content": {op.media_type: {"schema": schema}},
    }
    if op.headers:
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in op.headers.items()
        }
    return success


def render_operation(op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {
            str(op.status): _success(op),
            **{str(status): _error(status) for status in op.error_statuses()},
        },
        "security": [{"bearer": [scope]} for scope in op.access.scopes],
    }
    if op.description:
        doc["description"] = op.description
    if op.params:
        doc["parameters"] = [param.render() for param in op.params]
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {op.body_media_type: {"schema": ref(op.body)}},
        }
    return doc


def render_openapi(base_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = render_operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "fediverse-share exchange API", "version": VERSION,
                 "description": DESCRIPTION},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "schemas": {**schemas.COMPONENTS, **trade_schemas.COMPONENTS,
                        **listing_schemas.COMPONENTS, **clearing_schemas.COMPONENTS},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an OAuth 2 access token from /oauth/token",
                }
            },
        },
    }  # fmt: skip
