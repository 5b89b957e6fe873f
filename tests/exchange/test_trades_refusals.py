"""Wrong parties and wrong states: each refused step raises its typed error, changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange import trades
from exchange.errors import (
    CreditLimitExceeded,
    InvalidAmount,
    InvalidRequest,
    InvalidTransition,
    LedgerError,
    NotAParty,
    TradeConflict,
    UnknownAccount,
    UnknownTrade,
    WrongCurrency,
    WrongParty,
)
from exchange.trade_terms import OutsidePayment, Party, PaymentOption
from tests.exchange.conftest import T0
from tests.exchange.trading import everything, proposal, settle

STRANGER = Party.remote("https://evil.example/users/mallory")
DORA = Party.remote("https://b.example/users/dora")
NOW = T0 + 10


@pytest.fixture
async def staged(ledger):
    """Trades in every interesting state; bob proposed each, alice provides."""
    db = ledger
    for trade_id, option in (
        ("proposed", PaymentOption.FIXED),
        ("agreed", PaymentOption.FIXED),
        ("delivered", PaymentOption.FIXED),
        ("confirmed", PaymentOption.FIXED),
        ("feel", PaymentOption.PAY_WHAT_YOU_FEEL),
        ("loan", PaymentOption.LOAN),
    ):
        await db.write(trades.propose, proposal(trade_id, option), "bob", T0)
        steps = ("agreed", "delivered", "confirmed", "feel", "loan")
        if trade_id in steps:
            await db.write(trades.accept, trade_id, "alice", T0, step_id="k-accept")
        if trade_id in steps[1:]:
            await db.write(trades.deliver, trade_id, "alice", T0)
        if trade_id in steps[2:]:
            await db.write(trades.confirm, trade_id, "bob", T0)
    await settle(db, proposal("settled"))
    await settle(db, proposal("remote", PaymentOption.PAY_WHAT_YOU_FEEL, receiver=DORA), T0, 0)
    remote_feel = proposal("remote-feel", PaymentOption.PAY_WHAT_YOU_FEEL, receiver=DORA)
    await db.write(trades.propose, remote_feel, DORA, T0)
    for step, who in ((trades.accept, "alice"), (trades.deliver, "alice"), (trades.confirm, DORA)):
        await db.write(step, "remote-feel", who, T0)
    return db


REFUSALS = {
    "a stranger accepts": (trades.accept, ("proposed", "carol"), {}, NotAParty),
    "a remote stranger accepts": (trades.accept, ("proposed", STRANGER), {}, NotAParty),
    "a stranger pays": (trades.pay, ("confirmed", "carol"), {}, NotAParty),
    "the proposer accepts": (trades.accept, ("proposed", "bob"), {}, WrongParty),
    "the respondent cancels a proposal": (trades.cancel, ("proposed", "alice"), {}, WrongParty),
    "the receiver delivers": (trades.deliver, ("agreed", "bob"), {}, WrongParty),
    "the provider confirms": (trades.confirm, ("delivered", "alice"), {}, WrongParty),
    "the payee pays": (trades.pay, ("confirmed", "alice"), {}, WrongParty),
    "the borrower marks the return": (trades.mark_returned, ("loan", "bob"), {}, WrongParty),
    "delivery before agreement": (trades.deliver, ("proposed", "alice"), {}, InvalidTransition),
    "payment before confirmation": (trades.pay, ("delivered", "bob"), {}, InvalidTransition),
    "a decline after agreement": (trades.decline, ("agreed", "alice"), {}, InvalidTransition),
    "a cancel after delivery": (
        trades.cancel,
        ("delivered", "bob"),
        {"reason": "changed my mind"},
        InvalidTransition,
    ),
    "a return of a sale": (trades.mark_returned, ("confirmed", "alice"), {}, InvalidTransition),
    "a decline of a settled trade": (trades.decline, ("settled", "alice"), {}, InvalidTransition),
    "a pay of a settled trade by the payee": (
        trades.pay,
        ("settled", "alice"),
        {},
        InvalidTransition,
    ),
    "a cancel of an agreed trade without reason": (
        trades.cancel,
        ("agreed", "bob"),
        {"reason": "  "},
        InvalidRequest,
    ),
    "a reason too long": (
        trades.decline,
        ("proposed", "alice"),
        {"reason": "x" * 501},
        InvalidRequest,
    ),
    "another amount than the price": (
        trades.pay,
        ("confirmed", "bob"),
        {"amount_minor": 1},
        InvalidRequest,
    ),
    "euros on a fixed price": (
        trades.pay,
        ("confirmed", "bob"),
        {"outside": OutsidePayment("EUR", Decimal(1))},
        InvalidRequest,
    ),
    "pay what you feel without an amount": (trades.pay, ("feel", "bob"), {}, InvalidRequest),
    "a negative amount": (trades.pay, ("feel", "bob"), {"amount_minor": -5}, InvalidAmount),
    "over the payer's credit limit": (
        trades.pay,
        ("feel", "bob"),
        {"amount_minor": 30_000},
        CreditLimitExceeded,
    ),
    "ledger money to another community": (
        trades.pay,
        ("remote-feel", DORA),
        {"amount_minor": 100},
        InvalidRequest,
    ),
    "a step id reused for another step": (
        trades.deliver,
        ("agreed", "alice"),
        {"step_id": "k-accept"},
        TradeConflict,
    ),
    "a payment repeated with another amount": (
        trades.pay,
        ("remote", DORA),
        {"amount_minor": 5},
        TradeConflict,
    ),
    "an unknown trade": (trades.accept, ("nope", "alice"), {}, UnknownTrade),
}


@pytest.mark.parametrize("name", REFUSALS)
async def test_a_refused_step_raises_its_error_and_changes_nothing(staged, name):
    """Each refusal raises the expected typed error with its stable code; no row changes."""
    fn, args, kwargs, expected = REFUSALS[name]
    before = await staged.read(everything)
    with pytest.raises(expected) as caught:
        await staged.write(fn, args[0], args[1], NOW, **kwargs)
    assert isinstance(caught.value, LedgerError) and caught.value.code == expected.code
    assert await staged.read(everything) == before


PROPOSAL_REFUSALS = {
    "proposed by a stranger": (proposal("n1"), "carol", NotAParty),
    "an unknown member": (proposal("n1", receiver="mallory"), "mallory", UnknownAccount),
    "the issuance account as a party": (
        proposal("n1", receiver="issuance"),
        "alice",
        InvalidRequest,
    ),
    "another currency": (proposal("n1", currency_code="EUR"), "bob", WrongCurrency),
    "a return date in the past": (
        proposal("n1", PaymentOption.LOAN, return_due_at_us=T0),
        "bob",
        InvalidRequest,
    ),
    "a used trade id with other terms": (proposal("proposed", price_minor=1), "bob", TradeConflict),
}


@pytest.mark.parametrize("name", PROPOSAL_REFUSALS)
async def test_a_refused_proposal_raises_and_stores_nothing(staged, name):
    """Bad proposals raise their typed errors and leave every table as it was."""
    terms, actor, expected = PROPOSAL_REFUSALS[name]
    before = await staged.read(everything)
    with pytest.raises(expected):
        await staged.write(trades.propose, terms, actor, NOW)
    assert await staged.read(everything) == before


def test_error_codes_are_stable():
    """The codes the web layer maps to statuses do not drift."""
    codes = [
        e.code for e in (UnknownTrade, TradeConflict, NotAParty, WrongParty, InvalidTransition)
    ]
    assert codes == [
        "unknown_trade",
        "trade_conflict",
        "not_a_party",
        "wrong_party",
        "invalid_transition",
    ]
