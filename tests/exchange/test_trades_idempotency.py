"""Retries of proposals and steps change nothing, even concurrent ones."""

from __future__ import annotations

import asyncio

from exchange import trades
from exchange.audit import audit
from exchange.trade_terms import PaymentOption
from exchange.transfers import list_transfers_by_reference
from tests.exchange.conftest import T0
from tests.exchange.trading import everything, proposal, settle

STEPS = (
    (trades.accept, "alice", {}),
    (trades.deliver, "alice", {}),
    (trades.confirm, "bob", {}),
    (trades.pay, "bob", {"amount_minor": 900}),
)


async def test_a_repeated_proposal_returns_the_stored_trade(ledger):
    """The same trade id with the same terms is the same trade; nothing is added."""
    first = await ledger.write(trades.propose, proposal("t1"), "bob", T0)
    before = await ledger.read(everything)
    again = await ledger.write(trades.propose, proposal("t1"), "bob", T0 + 99)
    assert again == first
    assert await ledger.read(everything) == before


async def test_every_step_repeated_with_the_same_data_is_a_no_op(ledger):
    """Each step, sent twice, is taken once: the second call returns and changes nothing."""
    await ledger.write(trades.propose, proposal("p1", PaymentOption.PAY_WHAT_YOU_FEEL), "bob", T0)
    for step, who, kwargs in STEPS:
        taken = await ledger.write(step, "p1", who, T0 + 1, **kwargs)
        before = await ledger.read(everything)
        again = await ledger.write(step, "p1", who, T0 + 2, **kwargs)
        assert again == taken
        assert await ledger.read(everything) == before
    assert len(await ledger.read(list_transfers_by_reference, "trade:p1")) == 2  # + co-pay


async def test_an_earlier_step_repeated_later_is_still_a_no_op(ledger):
    """A late retry of ``deliver`` after the trade settled changes nothing."""
    await settle(ledger, proposal("t1"))
    before = await ledger.read(everything)
    trade = await ledger.write(trades.deliver, "t1", "alice", T0 + 5)
    assert trade.state == "settled"
    assert await ledger.read(everything) == before


async def test_a_step_id_makes_a_retry_recognisable(ledger):
    """A step sent with a caller's step id is recorded with it and replays by it."""
    await ledger.write(trades.propose, proposal("t1"), "bob", T0)
    await ledger.write(trades.accept, "t1", "alice", T0, step_id="idem-1")
    before = await ledger.read(everything)
    await ledger.write(trades.accept, "t1", "alice", T0 + 1, step_id="idem-1")
    assert await ledger.read(everything) == before
    history = await ledger.read(trades.list_steps, "t1")
    assert [s.step_id for s in history] == [None, "idem-1"]


async def test_concurrent_payments_of_one_trade_book_it_once(ledger):
    """Ten simultaneous ``pay`` calls: one payment is booked, all see the settled trade."""
    terms = proposal("t1")
    await ledger.write(trades.propose, terms, "bob", T0)
    for step, who, _ in STEPS[:3]:
        await ledger.write(step, "t1", who, T0)
    results = await asyncio.gather(
        *(ledger.write(trades.pay, "t1", "bob", T0 + 1) for _ in range(10))
    )
    assert {r.state for r in results} == {"settled"}
    transfers = await ledger.read(list_transfers_by_reference, "trade:t1")
    assert sum(t.amount_minor for t in transfers) == 2_000
    assert await ledger.read(audit) == []


async def test_concurrent_proposals_with_one_id_make_one_trade(ledger):
    """Simultaneous proposals with the same id and terms all return the one trade."""
    results = await asyncio.gather(
        *(ledger.write(trades.propose, proposal("t1"), "bob", T0) for _ in range(8))
    )
    assert len({r.created_at_us for r in results}) == 1
    assert len(await ledger.read(trades.list_steps, "t1")) == 1
