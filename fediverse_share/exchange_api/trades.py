"""Trades between members: propose, look up, and take each step of the lifecycle.

The lifecycle is `exchange.trade_machine`'s; this module parses requests, checks that
the caller is a party, and renders the outcome. Ids chosen by callers (the
``Idempotency-Key`` header or ``id``) are namespaced by the caller, as for payments: a
trade proposed by alice with key ``k`` is ``alice:k``; a step she takes with key ``s``
is step ``alice:s``. Repeating a proposal or a step with the same data changes nothing
and answers the trade as it is now; other data under the same id is a 409
``trade_conflict``. Only the two parties may see a trade; to anybody else it does not
exist. Paying a trade books ``trade:<trade id>`` (with the community's co-pay, if any),
which ``GET /payments/{id}`` shows with its legs. A trade with a member of another
community is paid through clearing, or noted as paid outside the ledger
(`fediverse_share.exchange_api.trade_payments`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange import trades
from exchange.errors import UnknownTrade, WrongCurrency
from exchange.money import Currency, parse_amount
from exchange.reviews import Review, list_trade_reviews
from exchange.settings import get_currency
from exchange.trade_machine import Action
from exchange.trade_store import TradeStep, find_trade, list_steps
from exchange.trade_terms import (
    ListingKind,
    ListingRef,
    Party,
    PaymentOption,
    Role,
    Trade,
    TradeProposal,
    parse_outside_payment,
)
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api import remote_trades, trade_payments
from fediverse_share.exchange_api.caller import (
    READ,
    WRITE,
    idempotency_key,
    optional_str,
    path_param,
    read_object,
    reject_unknown_fields,
    require_member,
    required_str,
    runtime_of,
)
from fediverse_share.exchange_api.errors import UnknownMember
from fediverse_share.exchange_api.handles import parse_local_handle
from fediverse_share.exchange_api.render import render_trade
from fediverse_share.members import Member, find_member
from fediverse_share.runtime import Runtime
from fediverse_share.trades import notices
from fediverse_share.trades.settlement import recorded_currency
from fediverse_share.trades.steps import step_and_federate

PROPOSAL_FIELDS = frozenset(
    {"id", "listing", "option", "role", "with", "currency", "price", "payer", "outside",
     "return_due_at"}
)  # fmt: skip
#: The body fields each step takes, besides ``id``.
STEP_FIELDS: dict[Action, frozenset[str]] = {
    Action.ACCEPT: frozenset(),
    Action.DECLINE: frozenset({"reason"}),
    Action.CANCEL: frozenset({"reason"}),
    Action.DELIVER: frozenset(),
    Action.CONFIRM: frozenset(),
    Action.PAY: frozenset({"amount", "currency", "outside", "quote_id"}),
    Action.RETURN: frozenset(),
}


@dataclass(frozen=True, slots=True)
class TradeView:
    """A trade as one of its parties sees it: its history and the reviews shown to them."""

    trade: Trade
    steps: tuple[TradeStep, ...]
    reviews: tuple[tuple[Review, bool], ...]  # and whether others see it yet
    currency: Currency  # the trade's: another community's when paid through clearing
    payment: dict[str, Any]  # how the price is paid (`trade_payments.describe_payment`)


def _enum(body: dict[str, Any], name: str, kind: Any, default: Any = None) -> Any:
    value = body.get(name, default)
    if value not in tuple(kind):
        choices = ", ".join(item.value for item in kind)
        raise BadRequest(f"{name} is one of {choices}", code="invalid_request")
    return kind(value)


def parse_instant_us(text: str, what: str) -> int:
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(f"{what} is an ISO 8601 instant with a time zone", code="invalid_request")
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def parse_listing(raw: object) -> ListingRef:
    if not isinstance(raw, dict) or set(raw) - {"ref", "title", "kind"}:
        raise BadRequest("listing is {ref, title, kind}", code="invalid_request")
    kind = _enum(raw, "kind", ListingKind, "offer")
    return ListingRef(required_str(raw, "ref"), required_str(raw, "title"), kind)


def parse_proposal(
    conn: Connection, member: Member, body: dict[str, Any], trade_id: str, domain: str
) -> TradeProposal:
    """The trade a body proposes, with the caller as one party; raises typed errors."""
    currency = get_currency(conn)
    code = optional_str(body, "currency", currency.code)
    if code != currency.code:
        raise WrongCurrency(f"this community's currency is {currency.code}")
    other = parse_local_handle(required_str(body, "with"), domain, "with")
    if find_member(conn, other) is None:
        raise UnknownMember(f"there is no member {other!r} here")
    role = _enum(body, "role", Role)
    me, them = Party.local(member.username), Party.local(other)
    price = optional_str(body, "price", "") or None
    outside = optional_str(body, "outside", "") or None
    due = optional_str(body, "return_due_at", "") or None
    return TradeProposal(
        trade_id=trade_id,
        listing=parse_listing(body.get("listing")),
        option=_enum(body, "option", PaymentOption),
        provider=me if role is Role.PROVIDER else them,
        receiver=them if role is Role.PROVIDER else me,
        currency_code=currency.code,
        price_minor=None if price is None else parse_amount(price, currency),
        payer=_enum(body, "payer", Role, Role.RECEIVER.value),
        outside=None if outside is None else parse_outside_payment(outside),
        return_due_at_us=None if due is None else parse_instant_us(due, "return_due_at"),
    )


def _view(conn: Connection, trade: Trade, viewer: str, at_us: int, domain: str) -> TradeView:
    steps = tuple(list_steps(conn, trade.id))
    public = list_trade_reviews(conn, trade.id, at_us)
    shown = tuple((r, r in public) for r in list_trade_reviews(conn, trade.id, at_us, viewer))
    currency = recorded_currency(trade) or get_currency(conn)
    payment = trade_payments.describe_payment(conn, trade, viewer, domain)
    return TradeView(trade, steps, shown, currency, payment)


def render(view: TradeView, domain: str) -> dict[str, Any]:
    """The Trade document: `render_trade`, and how its price is paid."""
    return {**render_trade(view, domain), **view.payment}


def get_visible_trade(conn: Connection, trade_id: str, viewer: str) -> Trade:
    """The trade if ``viewer`` is one of its parties; raises `UnknownTrade` otherwise."""
    trade = find_trade(conn, trade_id)
    if trade is None or trade.role_of(Party.local(viewer)) is None:
        raise UnknownTrade(trade_id)
    return trade


def _propose(
    conn: Connection,
    runtime: Runtime,
    member: Member,
    body: dict[str, Any],
    trade_id: str,
    at_us: int,
) -> TradeView:
    proposal = parse_proposal(conn, member, body, trade_id, runtime.instance.domain)
    seen = notices.count_steps(conn, trade_id)
    trade = trades.propose(conn, proposal, member.username, at_us)
    notices.tell_new_steps(conn, runtime, trade, seen)  # the other member hears of it
    return _view(conn, trade, member.username, at_us, runtime.instance.domain)


async def propose_trade(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    body = await read_object(request)
    runtime = runtime_of(request)
    domain = runtime.instance.domain
    if "listing_uri" in body:  # on another community's listing: FEP-0837 negotiation
        due = remote_trades.due_of(body)
        due_us = None if due is None else parse_instant_us(due, "return_due_at")
        trade_id = await remote_trades.propose_on_remote_listing(request, member, body, due_us)
        view = await runtime.db.read(_show, trade_id, member.username, now_us(), domain)
        location = f"{runtime.instance.base_url}/api/exchange/v1/trades/{trade_id}"
        return JSONResponse(render(view, domain), status_code=201, headers={"Location": location})
    reject_unknown_fields(body, PROPOSAL_FIELDS)
    key = idempotency_key(request, body) or str(runtime.ids.next_id())
    trade_id = f"{member.username}:{key}"
    view = await runtime.db.write(_propose, runtime, member, body, trade_id, now_us())
    location = f"{runtime.instance.base_url}/api/exchange/v1/trades/{trade_id}"
    return JSONResponse(render(view, domain), status_code=201, headers={"Location": location})


def _show(conn: Connection, trade_id: str, viewer: str, at_us: int, domain: str) -> TradeView:
    return _view(conn, get_visible_trade(conn, trade_id, viewer), viewer, at_us, domain)


async def show_trade(request: Request) -> Response:
    member = await require_member(request, *READ)
    runtime = runtime_of(request)
    trade_id = path_param(request, "trade_id")
    domain = runtime.instance.domain
    view = await runtime.db.read(_show, trade_id, member.username, now_us(), domain)
    return JSONResponse(render(view, domain))


def _step_arguments(conn: Connection, action: Action, body: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the domain's step function, from the body."""
    if action in (Action.DECLINE, Action.CANCEL):
        return {"reason": optional_str(body, "reason", "") or None}
    if action is not Action.PAY:
        return {}
    currency = get_currency(conn)
    if optional_str(body, "currency", currency.code) != currency.code:
        raise WrongCurrency(f"this community's currency is {currency.code}")
    amount = optional_str(body, "amount", "") or None
    outside = optional_str(body, "outside", "") or None
    return {
        "amount_minor": None if amount is None else parse_amount(amount, currency),
        "outside": None if outside is None else parse_outside_payment(outside),
    }


_STEPS: dict[Action, Callable[..., Trade]] = {
    Action.ACCEPT: trades.accept,
    Action.DECLINE: trades.decline,
    Action.CANCEL: trades.cancel,
    Action.DELIVER: trades.deliver,
    Action.CONFIRM: trades.confirm,
    Action.PAY: trades.pay,
    Action.RETURN: trades.mark_returned,
}


def _take_step(
    conn: Connection,
    runtime: Runtime,
    trade_id: str,
    action: Action,
    member: Member,
    body: dict[str, Any],
    step_id: str | None,
    at_us: int,
) -> TradeView:
    get_visible_trade(conn, trade_id, member.username)
    arguments = _step_arguments(conn, action, body)
    # A trade with a member of another community: the step is sent to their server too.
    trade = step_and_federate(
        conn, runtime, _STEPS[action], trade_id, member.username, at_us, step_id=step_id,
        **arguments,
    )  # fmt: skip
    return _view(conn, trade, member.username, at_us, runtime.instance.domain)


def step_endpoint(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """The handler of ``POST /trades/{trade_id}/<action>``."""

    async def take_step(request: Request) -> Response:
        member = await require_member(request, *WRITE)
        body = await read_object(request)
        reject_unknown_fields(body, STEP_FIELDS[action] | {"id"})
        key = idempotency_key(request, body)
        step_id = None if key is None else f"{member.username}:{key}"
        runtime = runtime_of(request)
        trade_id = path_param(request, "trade_id")
        domain = runtime.instance.domain
        if action is Action.PAY:
            trade = await runtime.db.read(get_visible_trade, trade_id, member.username)
            if await trade_payments.pay_through_clearing(runtime, member, trade, body, step_id):
                view = await runtime.db.read(_show, trade_id, member.username, now_us(), domain)
                return JSONResponse(render(view, domain))
        view = await runtime.db.write(
            _take_step, runtime, trade_id, action, member, body, step_id, now_us()
        )
        return JSONResponse(render(view, domain))

    take_step.__name__ = f"trade_{action.value}"
    return take_step
