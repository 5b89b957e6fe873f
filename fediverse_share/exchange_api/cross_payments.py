"""Payments to members of other communities, through clearing (DESIGN §5).

``POST /payments/quote`` and ``POST /payments`` whose ``to`` names a member of another
community (``acct:name@domain``) come here; ``amount`` and ``currency`` are then what
the payee receives, in their community's currency, or what the payer sends, in ours
(a fixed-send quote: ``receive`` says what it delivers). The quote is asked of the path
(`fediverse_share.clearing.payments.quote`): ``send`` is what it costs here, in our
currency, with the ``path`` of communities, the ``rates`` each cited and the expiry.
Its id is the payment's id: paying it (`fediverse_share.clearing.payments.pay`) holds
the member's leg and sends it on, and ``GET /payments/{id}`` shows it to the payer, its
state included while it is in flight (``pending``).

A payment's idempotency key is kept on its quote: the same key with the same request
returns the payment; with another request, another quote, or a key a local payment
used, it is a 409 ``idempotency_conflict``. Without ``quote_id`` the server quotes,
then pays. A memo travels with the quote (``memo`` in the quote request): a payment
that cites a quote keeps its memo and refuses another one (``quote_mismatch``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from exchange.errors import IdempotencyConflict
from exchange.money import Currency, parse_amount
from exchange.rates import PostedRate
from exchange.settings import get_currency
from exchange.transfers import check_memo, list_transfers_by_reference
from fediverse_share.clearing import payments
from fediverse_share.clearing.payments import CrossPayment, Quote
from fediverse_share.exchange_api.caller import optional_str, required_str
from fediverse_share.exchange_api.errors import QuoteRefused
from fediverse_share.exchange_api.handles import Handle
from fediverse_share.exchange_api.render_clearing import (
    render_cross_payment,
    render_cross_quote,
)
from fediverse_share.members import Member
from fediverse_share.peer_directory import find_cited_rate
from fediverse_share.runtime import Runtime

#: What the OpenAPI document says of these payments, per operation.
QUOTE_DOC = (
    "To a member of another community, `amount` and `currency` are what they receive, "
    "in their currency, or what you send, in ours (then `receive` is what that delivers "
    "at the rates on the way); `send` is the cost in ours, `path` the communities it crosses "
    "and `rates` the quote each cites. Cite the `id` as `quote_id` before `expires_at`. "
    "No way there is a 422 `no_route`; a community on the path that refuses, a 422 with "
    "its code."
)
PAY_DOC = (
    "To another community (`to` is `acct:name@domain`): with `quote_id`, pays that quote "
    "(same `to`, `amount`, `currency`; its memo); without, quotes and pays. The answer's "
    "`state` is `committed` when the payee's community booked it (usually at once), "
    "`pending` while the outcome is on its way, `rejected` (see `error`) or `expired`; "
    "its `legs` are this ledger's transfers."
)
SHOW_DOC = (
    "A payment to another community (its id is its quote's) is shown to its payer, its "
    "state included while it is in flight."
)


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a request asks for: ``amount`` of ``currency_code`` to ``destination``."""

    destination: str
    amount: str
    currency_code: str
    memo: str


def parse_wanted(body: dict[str, Any], payee: Handle) -> Wanted:
    assert payee.domain is not None
    memo = check_memo(optional_str(body, "memo"))
    amount, code = required_str(body, "amount"), required_str(body, "currency")
    return Wanted(f"acct:{payee.username}@{payee.domain}", amount, code, memo)


def matches(quote: Quote, wanted: Wanted, ours: Currency) -> bool:
    """Whether a request asks for what ``quote`` is for (an empty memo keeps the quote's):
    the amount delivered in the payee's currency, or sent in ``ours``."""
    if wanted.currency_code == quote.deliver_currency.code:
        currency, amount_minor = quote.deliver_currency, quote.deliver_minor
    elif wanted.currency_code == ours.code:
        currency, amount_minor = ours, quote.amount_minor
    else:
        return False
    return (
        quote.destination == wanted.destination
        and parse_amount(wanted.amount, currency) == amount_minor
        and wanted.memo in ("", quote.memo)
    )


def _found(conn: Connection, payer: str, key: str) -> tuple[CrossPayment | None, Currency]:
    return payments.find_by_key(conn, payer, key), get_currency(conn)


def _cached_rates(conn: Connection, quote: Quote) -> dict[str, PostedRate | None]:
    return {
        domain: find_cited_rate(conn, domain, quote.rate_ids.get(domain, ""))
        for domain in quote.path[1:]
    }


def _render_quote(conn: Connection, quote: Quote) -> dict[str, Any]:
    return render_cross_quote(quote, get_currency(conn), _cached_rates(conn, quote))


def render_payment(conn: Connection, payment: CrossPayment, domain: str) -> dict[str, Any]:
    assert payment.leg is not None
    transfers = list_transfers_by_reference(conn, payment.leg.ref)
    currency, cached = get_currency(conn), _cached_rates(conn, payment.quote)
    return render_cross_payment(payment, currency, domain, transfers, cached)


def find_payment_doc(
    conn: Connection, payer: str, payment_id: str, domain: str
) -> dict[str, Any] | None:
    """The payer's cross-community payment ``payment_id`` (its quote id), rendered."""
    payment = payments.find_payment(conn, payer, payment_id)
    if payment is None or payment.leg is None:
        return None
    return render_payment(conn, payment, domain)


async def _ask(runtime: Runtime, member: Member, wanted: Wanted, payee: Handle) -> Quote:
    assert payee.domain is not None
    return await payments.quote(
        runtime, member, payee.username, payee.domain, wanted.amount, wanted.currency_code,
        wanted.memo,
    )  # fmt: skip


async def quote(
    runtime: Runtime, member: Member, body: dict[str, Any], payee: Handle
) -> dict[str, Any]:
    quoted = await _ask(runtime, member, parse_wanted(body, payee), payee)
    return await runtime.db.read(_render_quote, quoted)


async def _quote_for(
    runtime: Runtime,
    member: Member,
    wanted: Wanted,
    payee: Handle,
    quote_id: str | None,
    ours: Currency,
) -> str:
    """The id of the quote to pay: the one cited (checked), or a new one."""
    if quote_id is None:
        return (await _ask(runtime, member, wanted, payee)).quote_id
    cited = await runtime.db.read(payments.find_payment, member.username, quote_id[:40])
    if cited is None:
        raise QuoteRefused("not a quote issued here", code="quote_invalid")
    if not matches(cited.quote, wanted, ours):
        raise QuoteRefused("the payment does not match its quote", code="quote_mismatch")
    return cited.quote.quote_id


async def pay(
    runtime: Runtime,
    member: Member,
    body: dict[str, Any],
    payee: Handle,
    key: str,
    quote_id: str | None,
) -> dict[str, Any]:
    """Pay a member of another community under ``key``; the payment, rendered."""
    wanted = parse_wanted(body, payee)
    domain = runtime.instance.domain
    earlier, ours = await runtime.db.read(_found, member.username, key)
    if earlier is None:
        chosen = await _quote_for(runtime, member, wanted, payee, quote_id, ours)
        # IntegrityError: another request took the key meanwhile; it is theirs (below).
        with contextlib.suppress(IntegrityError):
            await payments.pay(runtime, member, chosen, key)
        earlier = await runtime.db.read(payments.find_by_key, member.username, key)
        if earlier is None or earlier.quote.quote_id != chosen:
            raise IdempotencyConflict(f"payment {key}")
    elif quote_id not in (None, earlier.quote.quote_id) or not matches(earlier.quote, wanted, ours):
        raise IdempotencyConflict(f"payment {key}")
    return await runtime.db.read(render_payment, earlier, domain)
