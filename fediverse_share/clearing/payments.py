"""A member pays a member of another community: quote, then pay (DESIGN §5).

`quote` finds a path, allocates the transfer's id and asks the path what the payee's
amount costs here (each community on it applies its own posted rate and fee; the
payee's community returns its condition), or, for an amount in our currency (a
fixed-send quote), what sending it delivers to the payee. The quote is kept
(``clearing_quotes``) until it expires, so the member sees the cost in our currency
before confirming.
`pay` holds the member's leg and sends it on; the payment is ``committed`` when the
fulfilment comes back (usually within the same request), ``rejected`` when a
community on the path refused, ``pending`` while the outcome is on its way (the
worker's recovery finishes it), ``expired`` if nothing came before the hold expired.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from exchange import clearing, peers, sql
from exchange import clearing_tables as ct
from exchange.clearing import Leg, LegRequest, LegState
from exchange.errors import IdempotencyConflict, WrongCurrency
from exchange.money import Currency, check_amount, parse_amount
from exchange.settings import get_currency
from exchange.transfers import check_memo
from fediverse_share import failpoints
from fediverse_share.clearing import directory, transport, wire
from fediverse_share.clearing.settlement import Onward, Refusal, send_on
from fediverse_share.exchange_api.errors import QuoteRefused, UnknownPayment
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime

#: A quote is honoured at most this long, even if every rate on the path lasts longer.
QUOTE_KEPT_US = 10 * 60 * 1_000_000
_STATE = {
    LegState.PREPARED: "pending",
    LegState.COMMITTED: "committed",
    LegState.ABORTED: "rejected",
    LegState.EXPIRED: "expired",
    LegState.IN_DOUBT: "committed",
}


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    transfer_id: str
    payer: str
    destination: str
    deliver_minor: int
    deliver_currency: Currency
    amount_minor: int  # what the payer pays, in our currency
    path: tuple[str, ...]
    rate_ids: dict[str, str]
    condition: str
    memo: str
    valid_until_us: int
    payment_key: str | None


@dataclass(frozen=True, slots=True)
class CrossPayment:
    quote: Quote
    leg: Leg | None

    @property
    def state(self) -> str:
        return "quoted" if self.leg is None else _STATE[self.leg.state]


def _quote_from_values(values: Mapping[str, Any]) -> Quote:
    code, scale = values["deliver_currency"].split(":")
    return Quote(
        quote_id=values["quote_id"],
        transfer_id=values["transfer_id"],
        payer=values["payer_account_id"],
        destination=values["destination"],
        deliver_minor=values["deliver_minor"],
        deliver_currency=Currency(code, code, int(scale)),
        amount_minor=values["amount_minor"],
        path=tuple(json.loads(values["path"])),
        rate_ids=json.loads(values["rate_ids"]),
        condition=values["condition"],
        memo=values["memo"],
        valid_until_us=values["valid_until_us"],
        payment_key=values["payment_key"],
    )


# Built once and run on the DBAPI cursor (`exchange.sql`), as the legs' statements.
_Q = ct.quotes
_QUOTE_FIELDS = tuple(column.name for column in _Q.c)
_FIND_QUOTE = select(_Q).where(_Q.c.quote_id == bindparam("quote_id"))
_INSERT_QUOTE = _Q.insert()
#: A quote and the payer's leg of its transfer, if paid: one statement.
_FIND_PAYMENT = (
    select(_Q, ct.legs)
    .select_from(_Q.outerjoin(ct.legs, ct.legs.c.transfer_id == _Q.c.transfer_id))
    .where(_Q.c.quote_id == bindparam("quote_id"))
)
#: Claims an unpaid quote for a payment key; no row back if another request paid it.
_SET_KEY = (
    update(_Q)
    .where(_Q.c.quote_id == bindparam("b_quote_id"), _Q.c.payment_key.is_(None))
    .values(payment_key=bindparam("b_key"))
    .returning(_Q.c.quote_id)
)


def find_quote(conn: Connection, quote_id: str) -> Quote | None:
    rows = sql.fetch_all(conn, _FIND_QUOTE, {"quote_id": quote_id})
    return _quote_from_values(dict(zip(_QUOTE_FIELDS, rows[0], strict=True))) if rows else None


def find_payment(conn: Connection, payer: str, quote_id: str) -> CrossPayment | None:
    """The payer's payment (or quote) ``quote_id``; ``None`` for anybody else's."""
    rows = sql.fetch_all(conn, _FIND_PAYMENT, {"quote_id": quote_id})
    if not rows:
        return None
    columns = len(_QUOTE_FIELDS)
    quote = _quote_from_values(dict(zip(_QUOTE_FIELDS, rows[0][:columns], strict=True)))
    if quote.payer != payer:
        return None
    leg = rows[0][columns:]
    return CrossPayment(quote, None if leg[0] is None else clearing.leg_from_raw(leg))


def find_by_key(conn: Connection, payer: str, key: str) -> CrossPayment | None:
    q = ct.quotes
    row = conn.execute(
        select(q).where(q.c.payer_account_id == payer, q.c.payment_key == key)
    ).first()
    if row is None:
        return None
    quote = _quote_from_values(dict(zip(_QUOTE_FIELDS, row, strict=True)))
    return CrossPayment(quote, clearing.find_leg(conn, quote.transfer_id))


async def quote(
    runtime: Runtime,
    payer: Member,
    username: str,
    domain: str,
    amount: str,
    code: str,
    memo: str = "",
    *,
    sent: bool = False,
) -> Quote:
    """Ask the path what paying ``amount`` ``code`` to ``username@domain`` costs here.

    In the payee's currency the amount is what they receive; in ours (if the payee's
    is another, or if ``sent``) it is what the payer sends, and the quote says what
    that delivers. Raises `Refusal` (no route, a community on the path refused),
    `WrongCurrency`, `InvalidAmount`.
    """
    check_memo(memo)
    route = await directory.find_path(runtime, domain)
    deliver = send = None
    if code == route.currency.code and not sent:
        deliver = wire.render_money(parse_amount(amount, route.currency), route.currency)
    else:
        ours = await runtime.db.read(get_currency)
        if code != ours.code:
            raise WrongCurrency(
                f"{domain} keeps {route.currency.code}: say what the payee receives in it, "
                f"or what you send in {ours.code}"
            )
        send = wire.render_money(check_amount(parse_amount(amount, ours)), ours)
    number = runtime.ids.next_id()
    transfer_id = f"{runtime.instance.base_url}/clearing/transfers/{number}"
    message = wire.TransferMessage(
        transfer_id=transfer_id,
        path=route.path,
        destination=f"acct:{username}@{domain}",
        deliver=deliver,
        memo=memo,
        send=send,
    )
    link = await runtime.db.read(peers.active_link, route.path[1])
    answer = await transport.ask_peer(runtime, link, "Offer", wire.render_transfer(message))
    if answer.kind != "TentativeAccept":
        result = answer.result
        raise Refusal(
            str(result.get("code", "peer_unreachable")),
            str(result.get("message", answer.error or "the path did not answer the quote")),
        )
    return await runtime.db.write(
        _store_quote, payer, message, answer.result, route, number, runtime.now_us()
    )


def _store_quote(
    conn: Connection,
    payer: Member,
    message: wire.TransferMessage,
    result: dict[str, Any],
    route: directory.Route,
    number: int,
    at_us: int,
) -> Quote:
    currency = get_currency(conn)
    amount_minor = wire.parse_money(result.get("amount"), currency)
    delivered = message.deliver
    if message.send is not None:  # a fixed send: what we send, and what that delivers
        delivered = result.get("deliver")
        if amount_minor != wire.parse_money(message.send, currency):
            raise Refusal("invalid_message", "the quote came back for another amount sent")
    rate_ids = result.get("rates")
    condition = result.get("condition")
    if not isinstance(rate_ids, dict) or not isinstance(condition, str) or len(condition) != 64:
        raise Refusal("invalid_message", "the quote came back without rates or condition")
    valid_until = min(wire.parse_instant(result.get("endTime")), at_us + QUOTE_KEPT_US)
    values = {
        "transfer_id": message.transfer_id,
        "quote_id": str(number),
        "payer_account_id": payer.username,
        "payment_key": None,
        "destination": message.destination,
        "deliver_currency": f"{route.currency.code}:{route.currency.scale}",
        "deliver_minor": check_amount(wire.parse_money(delivered, route.currency)),
        "amount_minor": amount_minor,
        "path": json.dumps(list(route.path)),
        "rate_ids": json.dumps(rate_ids, sort_keys=True),
        "condition": condition,
        "memo": message.memo,
        "valid_until_us": valid_until,
        "created_at_us": at_us,
    }
    sql.fetch_all(conn, _INSERT_QUOTE, values)
    return _quote_from_values(values)


def _start(
    conn: Connection, payer: Member, quote_id: str, key: str, hold_us: int, at: int
) -> tuple[CrossPayment, Onward | None]:
    """Hold the payer's leg of a quote (once, under ``key``); checks the quote. With a
    new leg, what sending it on takes."""
    payment = find_payment(conn, payer.username, quote_id)
    if payment is None:
        raise UnknownPayment(f"you have no quote {quote_id[:40]!r}")
    q = payment.quote
    if q.payment_key is not None and q.payment_key != key:
        raise IdempotencyConflict(f"quote {quote_id}")
    if payment.leg is not None:
        return payment, None
    if at >= q.valid_until_us:
        raise QuoteRefused("the quote has expired; ask for a new one", code="quote_expired")
    if not sql.fetch_all(conn, _SET_KEY, {"b_quote_id": quote_id, "b_key": key}):
        # Paid by a request that committed since we read (on PostgreSQL the UPDATE
        # waited for it): answered as that payment, if with the same key.
        paid = find_payment(conn, payer.username, quote_id)
        if paid is None or paid.quote.payment_key != key:
            raise IdempotencyConflict(f"quote {quote_id}")
        return paid, None
    downstream = peers.get_link(conn, q.path[1])
    request = LegRequest(
        transfer_id=q.transfer_id,
        condition=q.condition,
        expires_at_us=at + hold_us,
        destination=q.destination,
        deliver=json.dumps(wire.render_money(q.deliver_minor, q.deliver_currency), sort_keys=True),
        amount_minor=q.amount_minor,
        path=q.path,
        rate_ids=q.rate_ids,
        memo=q.memo,
        downstream=q.path[1],
        payer_account_id=payer.username,
    )
    leg = clearing.prepare_new(conn, request, at, links={downstream.domain: downstream})
    return CrossPayment(q, leg), Onward(downstream, get_currency(conn))


async def pay(runtime: Runtime, payer: Member, quote_id: str, key: str) -> CrossPayment:
    """Pay a quote: hold the member's leg and send it along the path. Paying the same
    quote again with the same key returns the payment; with another key it is an
    `IdempotencyConflict`."""
    hold_us = int(runtime.settings.clearing_hold_seconds * 1_000_000)
    payment, known = await runtime.db.write(_start, payer, quote_id, key, hold_us, runtime.now_us())
    failpoints.reach(runtime.settings, "payer_prepared")
    leg = payment.leg
    if leg is not None and leg.state is LegState.PREPARED:
        leg = await send_on(runtime, leg, known)
    return CrossPayment(payment.quote, leg)
