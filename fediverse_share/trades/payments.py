"""The payer's ``pay`` step on a trade paid through clearing (DESIGN §5).

On such a trade (`Trade.is_cleared`, the payee a member of another community) the
step is a clearing payment of the price, in the listing's currency, to the payee
(`fediverse_share.clearing.payments`: quote, then pay): quoted to deliver the price on
an offer, and to send it (a fixed-send quote, from the payer's own currency) on a
need. Each attempt is paid under the key ``trade/<trade id>/<n>``, a key no member
can choose, so a trade's payments are found again: one committed is recorded, one in
flight is waited for, and only after a rejected or expired one is another made. The
step is recorded, and sent to the payee's server with the clearing transfer id, only
once the payment is committed:

* committed: `exchange.trades.pay` checks the leg and records the step, in the write
  that federates it (`fediverse_share.trades.steps.step_and_federate`);
* pending: the trade stays as it is; the worker step `record_committed` records it
  once recovery has committed the payment (or the member pays again);
* rejected or expired: `ClearingPaymentFailed`, and the trade is unchanged.

A member may first ask what it costs in their currency (``POST /payments/quote`` with
the trade's `fediverse_share.trades.settlement.Due`) and then pay that quote.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, and_, literal, or_, select
from sqlalchemy.exc import IntegrityError

from exchange import clearing_tables as ct
from exchange import trades
from exchange.clearing import LegState
from exchange.errors import LedgerError
from exchange.trade_machine import Action, plan_step
from exchange.trade_tables import trades as trade_rows
from exchange.trade_terms import Party, Trade, TradeState
from fediverse_share.clearing import payments
from fediverse_share.clearing.payments import CrossPayment, Quote
from fediverse_share.errors import AppError, BadRequest
from fediverse_share.exchange_api.errors import QuoteRefused
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.trades.errors import ClearingPaymentFailed
from fediverse_share.trades.settlement import Due, find_due
from fediverse_share.trades.steps import step_and_federate

log = logging.getLogger(__name__)
KEY_PREFIX = "trade/"
BATCH = 50


def pays_through_clearing(trade: Trade, username: str) -> bool:
    """Whether ``username`` pays ``trade`` through clearing (as its payer)."""
    return trade.is_cleared and trade.party(trade.payer) == Party.local(username)


def attempt_key(trade_id: str, number: int) -> str:
    return f"{KEY_PREFIX}{trade_id}/{number}"


def list_attempts(conn: Connection, payer: str, trade_id: str) -> list[CrossPayment]:
    """The payer's payments for a trade, first attempt first."""
    q, prefix = ct.quotes, attempt_key(trade_id, 0)[:-1]
    rows = conn.execute(
        select(q.c.quote_id, q.c.payment_key).where(
            q.c.payer_account_id == payer, q.c.payment_key.startswith(prefix, autoescape=True)
        )
    )
    numbered = sorted(
        (int(key.removeprefix(prefix)), quote_id)
        for quote_id, key in rows
        if key.removeprefix(prefix).isdigit()
    )
    found = [payments.find_payment(conn, payer, quote_id) for _, quote_id in numbered]
    return [payment for payment in found if payment is not None]


def _facts(
    conn: Connection, member: Member, trade_id: str, domain: str
) -> tuple[Trade, Due | None, list[CrossPayment]]:
    from fediverse_share.exchange_api.trades import get_visible_trade

    trade = get_visible_trade(conn, trade_id, member.username)
    return trade, find_due(conn, trade, domain), list_attempts(conn, member.username, trade_id)


def _check_may_pay(trade: Trade, username: str) -> None:
    """Raise the domain's refusal now if the payer could not record the step afterwards."""
    role = trade.role_of(Party.local(username))
    assert role is not None  # a party: the trade is visible to them
    plan_step(trade.id, trade.option, trade.state, Action.PAY, role,
              proposer=trade.proposer, payer=trade.payer)  # fmt: skip


def _in_effect(attempts: list[CrossPayment]) -> CrossPayment | None:
    """The last attempt, unless it failed (then another may be made)."""
    last = attempts[-1] if attempts else None
    return last if last is not None and last.state in ("committed", "pending") else None


def _matches(quote: Quote, due: Due) -> bool:
    """Whether ``quote`` pays what is due: sends it (our currency, the trade's on a
    need) or delivers it in the trade's currency."""
    if due.sent:
        return quote.destination == due.destination and quote.amount_minor == due.amount_minor
    return (
        quote.destination == due.destination
        and quote.deliver_currency.code == due.currency.code
        and quote.deliver_minor == due.amount_minor
    )


async def _quote_id(runtime: Runtime, member: Member, due: Due, memo: str) -> str:
    quote = await payments.quote(
        runtime, member, due.username, due.domain, due.amount, due.currency.code, memo,
        sent=due.sent,
    )  # fmt: skip
    return quote.quote_id


async def _new_attempt(
    runtime: Runtime, member: Member, trade: Trade, due: Due, number: int, quote_id: str | None
) -> CrossPayment:
    if quote_id is None:
        quote_id = await _quote_id(runtime, member, due, trade.listing.title)
    else:
        cited = await runtime.db.read(payments.find_payment, member.username, quote_id[:40])
        if cited is None or not _matches(cited.quote, due):
            raise QuoteRefused("not a quote of this trade's price", code="quote_mismatch")
        if cited.leg is not None:  # paid already (POST /payments): that payment counts
            return cited
    key = attempt_key(trade.id, number)
    try:
        return await payments.pay(runtime, member, quote_id, key)
    except IntegrityError:  # another request made this attempt meanwhile: it counts
        found = await runtime.db.read(payments.find_by_key, member.username, key)
        if found is None:
            raise
        return found


async def pay_step(
    runtime: Runtime,
    member: Member,
    trade_id: str,
    *,
    quote_id: str | None = None,
    step_id: str | None = None,
) -> Trade | None:
    """The member pays a trade through clearing (see the module docstring): the trade,
    paid or (while the payment is in flight) as it was; ``None`` if the member does not
    pay this trade through clearing. Raises `ClearingPaymentFailed`, `QuoteRefused`, the
    clearing's `Refusal` (no route, a community on the path refused) and the domain's
    step errors."""
    domain = runtime.instance.domain
    trade, due, attempts = await runtime.db.read(_facts, member, trade_id, domain)
    if not pays_through_clearing(trade, member.username) or due is None:
        if quote_id is not None:
            raise BadRequest("only a trade paid through clearing takes a quote_id")
        return None
    if trade.payment_id is not None:  # paid already: repeating the step changes nothing
        return trade
    _check_may_pay(trade, member.username)
    payment = _in_effect(attempts) or await _new_attempt(
        runtime, member, trade, due, len(attempts) + 1, quote_id
    )
    leg = payment.leg
    assert leg is not None
    if leg.state is LegState.COMMITTED:
        return await runtime.db.write(
            _record, runtime, member.username, trade_id, leg.transfer_id, step_id
        )
    if payment.state in ("pending", "committed"):  # in flight, or in doubt: wait
        return trade
    raise ClearingPaymentFailed(payment.state, leg.error_code)


def _record(
    conn: Connection,
    runtime: Runtime,
    payer: str,
    trade_id: str,
    transfer_id: str,
    step_id: str | None,
) -> Trade:
    return step_and_federate(
        conn, runtime, trades.pay, trade_id, payer, runtime.now_us(), step_id=step_id,
        clearing_transfer_id=transfer_id,
    )  # fmt: skip


def _committed_unrecorded(conn: Connection) -> list[tuple[str, str, str]]:
    """(trade, payer, transfer) of confirmed trades whose clearing payment committed."""
    t, q, legs = trade_rows, ct.quotes, ct.legs
    payer = or_(
        q.c.payer_account_id == t.c.provider_account_id,
        q.c.payer_account_id == t.c.receiver_account_id,
    )
    query = (
        select(t.c.id, q.c.payer_account_id, q.c.payment_key, legs.c.transfer_id)
        .select_from(t)
        .join(q, and_(q.c.payment_key.like(literal(KEY_PREFIX) + t.c.id + "/%"), payer))
        .join(legs, legs.c.transfer_id == q.c.transfer_id)
        .where(
            t.c.state == TradeState.CONFIRMED.value,
            t.c.clearing_scale.is_not(None),
            legs.c.state == LegState.COMMITTED.value,
        )
        .limit(BATCH)
    )
    return [
        (row.id, row.payer_account_id, row.transfer_id)
        for row in conn.execute(query)
        if row.payment_key.rsplit("/", 1)[0] == f"{KEY_PREFIX}{row.id}"
    ]


async def record_committed(runtime: Runtime) -> int:
    """Worker step: record the ``pay`` step of trades whose payment through clearing
    committed after the request that made it had answered (it was pending)."""
    done = 0
    for trade_id, payer, transfer_id in await runtime.db.read(_committed_unrecorded):
        try:
            await runtime.db.write(_record, runtime, payer, trade_id, transfer_id, None)
            done += 1
        except (LedgerError, AppError) as error:  # the trade moved on meanwhile
            log.warning("trade %s: payment %s not recorded: %s", trade_id, transfer_id, error)
    return done


def find_trade_payment(conn: Connection, trade: Trade, viewer: str) -> CrossPayment | None:
    """The viewer's latest payment through clearing for ``trade``, if they made one."""
    attempts = list_attempts(conn, viewer, trade.id) if trade.is_cleared else []
    return attempts[-1] if attempts else None
