"""The whole trade lifecycle for every payment option, with the money really moving."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange import trades
from exchange.accounts import ISSUANCE, get_account
from exchange.audit import audit
from exchange.errors import TradeConflict
from exchange.reviews import write_review
from exchange.settings import get_settings, update_settings
from exchange.statements import get_statement
from exchange.trade_machine import Action
from exchange.trade_terms import (
    ListingKind,
    ListingRef,
    OutsidePayment,
    Party,
    PaymentOption,
    Role,
    TradeState,
    parse_outside_payment,
    render_outside_payment,
)
from exchange.transfers import TransferKind, list_transfers_by_reference
from tests.exchange.conftest import T0
from tests.exchange.trading import DAY_US, proposal, settle

REMOTE = Party.remote("https://b.example/users/dora")


async def balances(db, *names: str) -> tuple[int, ...]:
    return tuple([(await db.read(get_account, name)).balance_minor for name in names])


async def set_threshold(db, value: str) -> None:
    settings = await db.read(get_settings)
    changed = replace(settings, issuance_reputation_threshold=Decimal(value))
    await db.write(update_settings, changed, T0)


async def test_a_fixed_price_trade_goes_through_every_state(ledger):
    """proposed → agreed → delivered → confirmed → paid → settled, each by its party."""
    terms = proposal("t1")
    seen = [(await ledger.write(trades.propose, terms, "bob", T0)).state]
    seen.append((await ledger.write(trades.accept, "t1", "alice", T0 + 1)).state)
    seen.append((await ledger.write(trades.deliver, "t1", "alice", T0 + 2)).state)
    seen.append((await ledger.write(trades.confirm, "t1", "bob", T0 + 3)).state)
    trade = await ledger.write(trades.pay, "t1", "bob", T0 + 4)
    assert seen == ["proposed", "agreed", "delivered", "confirmed"]
    assert (trade.state, trade.settled_at_us, trade.confirmed_at_us) == ("settled", T0 + 4, T0 + 3)
    assert (trade.payment_id, trade.paid_minor) == ("trade:t1", 2_000)
    history = await ledger.read(trades.list_steps, "t1")
    assert [(s.action, s.actor_role, s.to_state) for s in history] == [
        (Action.PROPOSE, Role.RECEIVER, TradeState.PROPOSED),
        (Action.ACCEPT, Role.PROVIDER, TradeState.AGREED),
        (Action.DELIVER, Role.PROVIDER, TradeState.DELIVERED),
        (Action.CONFIRM, Role.RECEIVER, TradeState.CONFIRMED),
        (Action.PAY, Role.RECEIVER, TradeState.PAID),
        (Action.SETTLE, None, TradeState.SETTLED),
    ]


async def test_the_payment_shows_on_both_statements_and_the_audit_is_clean(ledger):
    """A fixed price moves from the receiver to the provider under ``trade:<id>``."""
    await settle(ledger, proposal("t1"))
    entries = {}
    for name in ("alice", "bob"):
        page = await ledger.read(get_statement, name)
        entries[name] = [(e.reference, e.kind, e.amount_minor) for e in page.entries]
    assert ("trade:t1", TransferKind.PAYMENT, -1_000) in entries["bob"]
    assert ("trade:t1", TransferKind.PAYMENT, 1_000) in entries["alice"]
    assert ("trade:t1", TransferKind.ISSUANCE, 1_000) in entries["alice"]
    assert await balances(ledger, "alice", "bob", ISSUANCE) == (2_000, -1_000, -1_000)
    assert await ledger.read(audit) == []


async def test_the_copay_waits_for_the_buyers_reputation(ledger):
    """Under a threshold of 3.1 an unknown buyer (3.00) pays all; once reviewed, half."""
    await set_threshold(ledger, "3.1")
    first = await settle(ledger, proposal("t1"))
    assert await balances(ledger, "alice", "bob", ISSUANCE) == (2_000, -2_000, 0)
    gift = await settle(ledger, proposal("g1", PaymentOption.GIFT, "carol", "bob"))
    await ledger.write(write_review, "g1", "carol", 5, "lovely", gift.settled_at_us)
    await ledger.write(write_review, "g1", "bob", 5, "thanks", gift.settled_at_us)
    second = await settle(ledger, proposal("t2"), T0 + 2)
    transfers = await ledger.read(list_transfers_by_reference, "trade:t2")
    assert [(t.debit_account_id, t.amount_minor) for t in transfers] == [
        ("bob", 1_000),
        (ISSUANCE, 1_000),
    ]
    assert (first.paid_minor, second.paid_minor) == (2_000, 2_000)
    assert await balances(ledger, "alice", "bob", ISSUANCE) == (4_000, -3_000, -1_000)
    assert await ledger.read(audit) == []


async def test_pay_what_you_feel_books_the_amount_the_payer_chose(ledger):
    """The payer names the amount after delivery; a part paid in euros is only noted."""
    terms = proposal("p1", PaymentOption.PAY_WHAT_YOU_FEEL)
    await ledger.write(trades.propose, terms, "bob", T0)
    for step, who in ((trades.accept, "alice"), (trades.deliver, "alice"), (trades.confirm, "bob")):
        await ledger.write(step, "p1", who, T0 + 1)
    euros = parse_outside_payment("EUR 5.00")
    trade = await ledger.write(trades.pay, "p1", "bob", T0 + 2, amount_minor=700, outside=euros)
    assert (trade.state, trade.paid_minor, trade.outside) == ("settled", 700, euros)
    assert render_outside_payment(trade.outside) == "EUR 5.00"
    assert await balances(ledger, "alice", "bob") == (700, -350)
    assert await ledger.read(audit) == []


async def test_pay_what_you_feel_may_be_nothing(ledger):
    """Paying zero settles the trade without any transfer."""
    trade = await settle(ledger, proposal("p0", PaymentOption.PAY_WHAT_YOU_FEEL), amount_minor=0)
    assert (trade.state, trade.paid_minor, trade.payment_id) == ("settled", 0, None)
    assert await ledger.read(list_transfers_by_reference, "trade:p0") == []


@pytest.mark.parametrize("option", [PaymentOption.GIFT, PaymentOption.SWAP])
async def test_gifts_and_swaps_settle_on_confirmation_without_money(ledger, option):
    """A gift settles when the receiver confirms, a swap when both sides have confirmed."""
    trade = await settle(ledger, proposal("g1", option))
    assert (trade.state, trade.payment_id, trade.paid_minor) == ("settled", None, None)
    assert await balances(ledger, "alice", "bob") == (0, 0)


async def test_a_swap_waits_for_both_deliveries_and_both_confirmations(ledger):
    """In a swap each side delivers and confirms; the state moves on the second one."""
    await ledger.write(trades.propose, proposal("s1", PaymentOption.SWAP), "bob", T0)
    await ledger.write(trades.accept, "s1", "alice", T0)
    states = []
    for step, who in (
        (trades.deliver, "bob"),
        (trades.deliver, "alice"),
        (trades.confirm, "alice"),
        (trades.confirm, "bob"),
    ):
        states.append((await ledger.write(step, "s1", who, T0 + 1)).state)
    assert states == ["agreed", "delivered", "delivered", "settled"]


async def test_a_loan_comes_back_before_it_settles(ledger):
    """A loan is confirmed, then returned (marked by the lender), then settled."""
    terms = proposal("l1", PaymentOption.LOAN)
    await ledger.write(trades.propose, terms, "bob", T0)
    for step, who in ((trades.accept, "alice"), (trades.deliver, "alice"), (trades.confirm, "bob")):
        trade = await ledger.write(step, "l1", who, T0 + 1)
    assert trade.state == "confirmed" and not trade.is_overdue(T0 + 29 * DAY_US)
    assert trade.is_overdue(T0 + 31 * DAY_US)
    trade = await ledger.write(trades.mark_returned, "l1", "alice", T0 + 2)
    assert (trade.state, trade.paid_minor) == ("settled", None)


async def test_a_rental_is_paid_then_returned(ledger):
    """A rental books its price, waits in ``paid`` for the return, then settles."""
    terms = proposal("r1", PaymentOption.RENTAL)
    await ledger.write(trades.propose, terms, "bob", T0)
    for step, who in ((trades.accept, "alice"), (trades.deliver, "alice"), (trades.confirm, "bob")):
        await ledger.write(step, "r1", who, T0 + 1)
    paid = await ledger.write(trades.pay, "r1", "bob", T0 + 2)
    assert (paid.state, paid.paid_minor) == ("paid", 1_500)
    settled = await ledger.write(trades.mark_returned, "r1", "alice", T0 + 3)
    assert (settled.state, settled.settled_at_us) == ("settled", T0 + 3)
    assert await balances(ledger, "alice", "bob") == (1_500, -750)
    assert await ledger.read(audit) == []


async def test_a_need_can_have_the_provider_pay(ledger):
    """With ``payer`` = provider (someone is paid to take a sofa), money flows the other way."""
    sofa = ListingRef("need-7", "Take my old sofa", ListingKind.NEED)
    terms = proposal("n1", listing=sofa, payer=Role.PROVIDER)
    trade = await settle(ledger, terms)
    assert (trade.state, trade.payee) == ("settled", Role.RECEIVER)
    assert await balances(ledger, "alice", "bob") == (-1_000, 2_000)


async def test_a_price_paid_entirely_outside_the_ledger_books_nothing(ledger):
    """A fixed price of zero in the ledger plus euros outside settles with no transfer."""
    terms = proposal("o1", price_minor=0, outside=OutsidePayment("EUR", Decimal("12.50")))
    trade = await settle(ledger, terms)
    assert (trade.state, trade.paid_minor, trade.payment_id) == ("settled", 0, None)
    assert render_outside_payment(trade.outside) == "EUR 12.50"
    assert await balances(ledger, "alice", "bob") == (0, 0)


@pytest.mark.parametrize("option", [PaymentOption.GIFT, PaymentOption.SWAP, PaymentOption.FIXED])
async def test_a_trade_with_a_remote_member_settles_outside_the_ledger(ledger, option):
    """A cross-community trade can be a gift, a swap or paid outside; nothing is booked."""
    extra = {"price_minor": 0, "outside": OutsidePayment("EUR", Decimal(3))}
    terms = proposal("x1", option, receiver=REMOTE, **(extra if option == "fixed" else {}))
    trade = await settle(ledger, terms)
    assert (trade.state, trade.is_remote, trade.receiver) == ("settled", True, REMOTE)
    assert await balances(ledger, "alice") == (0,)
    found = await ledger.read(trades.list_trades_of, REMOTE)
    assert [t.id for t in found] == ["x1"]


async def test_a_cross_community_trade_is_found_by_its_agreement(ledger):
    """The FEP-0837 Agreement id of a trade finds its local record, once."""
    agreement = "https://b.example/agreements/42"
    terms = proposal("x1", PaymentOption.GIFT, receiver=REMOTE, agreement_uri=agreement)
    await ledger.write(trades.propose, terms, REMOTE, T0)
    found = await ledger.read(trades.find_trade_by_agreement, agreement)
    assert found is not None and found.id == "x1"
    assert await ledger.read(trades.find_trade_by_agreement, agreement + "0") is None
    with pytest.raises(TradeConflict):
        await ledger.write(trades.propose, replace(terms, trade_id="x2"), REMOTE, T0)


async def test_cancel_and_decline_end_a_trade_with_their_reason(ledger):
    """The respondent declines; an agreed trade is cancelled by either party with a reason."""
    await ledger.write(trades.propose, proposal("d1"), "bob", T0)
    declined = await ledger.write(trades.decline, "d1", "alice", T0, reason="sold already")
    await ledger.write(trades.propose, proposal("c1"), "bob", T0)
    await ledger.write(trades.accept, "c1", "alice", T0)
    cancelled = await ledger.write(trades.cancel, "c1", "bob", T0, reason="found one")
    await ledger.write(trades.propose, proposal("c2"), "bob", T0)
    withdrawn = await ledger.write(trades.cancel, "c2", "bob", T0)
    assert (declined.state, declined.reason) == ("declined", "sold already")
    assert (cancelled.state, cancelled.reason) == ("cancelled", "found one")
    assert (withdrawn.state, withdrawn.reason) == ("cancelled", None)
