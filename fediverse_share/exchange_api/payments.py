"""Payments between members: quote, pay, and look a payment up.

A payment is a ledger transfer of kind ``payment`` whose id is the caller's
idempotency key namespaced by the payer: ``pay:<payer>:<key>``, so two members can
use the same key without meeting, and a replay (same key, same body) returns the
stored payment and books nothing; the same key with another body is a 409
``idempotency_conflict`` (`exchange.transfers`). Without a key the server picks one,
and the request is then not safe to repeat. A payment for a trade (booked by the
trade's ``pay`` step, with the community's co-pay, if any) is found under its own id;
a payment's legs are every transfer that carries its id as their reference.

Only the payer and the payee may see a payment; anybody else is told there is none.

A ``to`` naming a member of another community (``acct:name@domain``) makes a payment
through clearing instead (`fediverse_share.exchange_api.cross_payments`): its id is
its quote's, and only its payer may see it. A key is used once, by either kind.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange.booking import Phase, Transfer, TransferKind
from exchange.errors import IdempotencyConflict, WrongCurrency
from exchange.money import Currency, check_amount, parse_amount
from exchange.pending import PendingStatus, get_pending_state
from exchange.settings import get_currency
from exchange.transfers import (
    TransferRequest,
    check_memo,
    create_transfer,
    find_transfer,
    list_transfers_by_reference,
)
from fediverse_share.clearing.payments import find_by_key
from fediverse_share.clock import now_us
from fediverse_share.exchange_api import cross_payments, quotes
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
from fediverse_share.exchange_api.errors import SelfPayment, UnknownPayee, UnknownPayment
from fediverse_share.exchange_api.handles import Handle, parse_handle, parse_local_handle
from fediverse_share.exchange_api.render import render_payment, render_quote
from fediverse_share.members import Member, find_member

PAYMENT_FIELDS = frozenset({"id", "to", "amount", "currency", "memo", "quote_id"})
QUOTE_FIELDS = frozenset({"id", "to", "amount", "currency", "memo"})
_STATE_OF_HOLD = {
    PendingStatus.PENDING: "pending",
    PendingStatus.POSTED: "committed",
    PendingStatus.VOIDED: "rejected",
    PendingStatus.EXPIRED: "expired",
}


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as the API shows it: its own transfer, its state and all its legs."""

    id: str
    state: str
    transfer: Transfer
    legs: tuple[Transfer, ...]

    @property
    def parties(self) -> tuple[str, str]:
        """The payer's and the payee's accounts."""
        return self.transfer.debit_account_id, self.transfer.credit_account_id

    @property
    def amount_minor(self) -> int:
        """What the payee receives: the legs paid to them (a trade's co-pay included)."""
        payee = self.transfer.credit_account_id
        return sum(
            leg.amount_minor
            for leg in self.legs
            if leg.credit_account_id == payee and leg.phase in (Phase.SINGLE, Phase.PENDING)
        )


def payment_transfer_id(payer: str, key: str) -> str:
    return f"pay:{payer}:{key}"


def parse_payment(
    conn: Connection, payer: Member, body: dict[str, Any], domain: str
) -> tuple[quotes.Quote, Currency]:
    """What a body asks for, as an unexpired-forever quote; raises typed errors."""
    currency = get_currency(conn)
    code = required_str(body, "currency")
    if code != currency.code:
        raise WrongCurrency(f"this community's currency is {currency.code}, not {code[:16]!r}")
    amount_minor = check_amount(parse_amount(required_str(body, "amount"), currency))
    payee = parse_local_handle(required_str(body, "to"), domain)
    if payee == payer.username:
        raise SelfPayment("you cannot pay yourself")
    if find_member(conn, payee) is None:
        raise UnknownPayee(f"there is no member {payee!r} here")
    return quotes.Quote(payer.username, payee, amount_minor, currency.code, 0), currency


def find_payment(conn: Connection, payment_id: str, at_us: int) -> Payment | None:
    transfer = find_transfer(conn, payment_id)
    if transfer is None or transfer.kind is not TransferKind.PAYMENT:
        return None
    if transfer.phase is Phase.SINGLE:
        state = "committed"
    elif transfer.phase is Phase.PENDING:
        state = _STATE_OF_HOLD[get_pending_state(conn, payment_id, at_us).status]
    else:
        return None
    legs = tuple(list_transfers_by_reference(conn, payment_id)) or (transfer,)
    return Payment(payment_id, state, transfer, legs)


def get_payment(conn: Connection, payment_id: str, viewer: str, at_us: int) -> Payment:
    """The payment if ``viewer`` is its payer or payee; raises `UnknownPayment`."""
    payment = find_payment(conn, payment_id, at_us)
    if payment is None or viewer not in payment.parties:
        raise UnknownPayment(f"you have no payment {payment_id[:200]!r}")
    return payment


def _pay(
    conn: Connection,
    payer: Member,
    body: dict[str, Any],
    key: str,
    quote: quotes.Quote | None,
    domain: str,
    at_us: int,
) -> tuple[Payment, Currency]:
    wanted, currency = parse_payment(conn, payer, body, domain)
    memo = check_memo(optional_str(body, "memo"))
    transfer_id = payment_transfer_id(payer.username, key)
    if find_by_key(conn, payer.username, key) is not None:
        raise IdempotencyConflict(f"a payment to another community used key {key!r}")
    if quote is not None:
        quotes.check_quote(quote, wanted)
        if find_transfer(conn, transfer_id) is None:  # a replay may come after the expiry
            quotes.check_quote_fresh(quote, at_us)
    request = TransferRequest(
        transfer_id, payer.username, wanted.payee, wanted.amount_minor, currency.code,
        TransferKind.PAYMENT, memo, reference=transfer_id,
    )  # fmt: skip
    create_transfer(conn, request, at_us)
    return get_payment(conn, transfer_id, payer.username, at_us), currency


def _quote(
    conn: Connection, payer: Member, body: dict[str, Any], domain: str
) -> tuple[quotes.Quote, Currency]:
    return parse_payment(conn, payer, body, domain)


def _payee(request_body: dict[str, Any], domain: str) -> Handle:
    return parse_handle(required_str(request_body, "to"), domain)


async def create_quote(request: Request) -> Response:
    member = await require_member(request, *READ)
    body = await read_object(request)
    reject_unknown_fields(body, QUOTE_FIELDS)
    idempotency_key(request, body)  # checked, not kept: a quote changes nothing
    runtime = runtime_of(request)
    domain = runtime.instance.domain
    payee = _payee(body, domain)
    if payee.domain is not None:
        return JSONResponse(await cross_payments.quote(runtime, member, body, payee))
    wanted, currency = await runtime.db.read(_quote, member, body, domain)
    quote = dataclasses.replace(wanted, expires_at_us=now_us() + quotes.QUOTE_VALIDITY_US)
    quote_id = quotes.render_quote_id(quote, runtime.settings.secret_key)
    return JSONResponse(render_quote(quote, quote_id, currency, domain))


def _check_key_unused(conn: Connection, payer: str, key: str) -> None:
    """Refuse a key a payment within this community used (`cross_payments` keeps its own)."""
    if find_transfer(conn, payment_transfer_id(payer, key)) is not None:
        raise IdempotencyConflict(f"a payment in this community used key {key!r}")


async def _pay_across(
    request: Request, member: Member, body: dict[str, Any], payee: Handle, key: str
) -> Response:
    runtime = runtime_of(request)
    await runtime.db.read(_check_key_unused, member.username, key)
    raw_quote = optional_str(body, "quote_id") or None
    doc = await cross_payments.pay(runtime, member, body, payee, key, raw_quote)
    location = f"{runtime.instance.base_url}/api/exchange/v1/payments/{doc['id']}"
    return JSONResponse(doc, status_code=201, headers={"Location": location})


async def create_payment(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    body = await read_object(request)
    reject_unknown_fields(body, PAYMENT_FIELDS)
    runtime = runtime_of(request)
    key = idempotency_key(request, body) or str(runtime.ids.next_id())
    domain = runtime.instance.domain
    payee = _payee(body, domain)
    if payee.domain is not None:
        return await _pay_across(request, member, body, payee, key)
    raw_quote = optional_str(body, "quote_id")
    quote = quotes.parse_quote_id(raw_quote, runtime.settings.secret_key) if raw_quote else None
    payment, currency = await runtime.db.write(_pay, member, body, key, quote, domain, now_us())
    location = f"{runtime.instance.base_url}/api/exchange/v1/payments/{payment.id}"
    return JSONResponse(
        render_payment(payment, currency, domain), status_code=201, headers={"Location": location}
    )


def _show(conn: Connection, payment_id: str, viewer: str, domain: str, at_us: int) -> Any:
    """A payment the viewer may see, local or to another community, rendered."""
    payment = find_payment(conn, payment_id, at_us)
    if payment is not None and viewer in payment.parties:
        return render_payment(payment, get_currency(conn), domain)
    across = cross_payments.find_payment_doc(conn, viewer, payment_id, domain)
    if across is None:
        raise UnknownPayment(f"you have no payment {payment_id[:200]!r}")
    return across


async def show_payment(request: Request) -> Response:
    member = await require_member(request, *READ)
    runtime = runtime_of(request)
    payment_id = path_param(request, "payment_id")
    domain = runtime.instance.domain
    doc = await runtime.db.read(_show, payment_id, member.username, domain, now_us())
    return JSONResponse(doc)
