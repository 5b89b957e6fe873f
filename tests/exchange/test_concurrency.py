"""Limits and idempotency hold under concurrent writes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from exchange.accounts import get_account, open_member_account
from exchange.audit import audit
from exchange.demurrage import demurrage_transfer_id, run_demurrage
from exchange.errors import CreditLimitExceeded, TransferNotPending
from exchange.pending import post_pending, void_pending
from exchange.periods import Period, period_start_us
from exchange.settings import get_settings, update_settings
from exchange.transfers import (
    TransferRequest,
    create_pending,
    create_transfer,
    find_transfer,
    list_transfers_by_reference,
)
from tests.exchange.conftest import T0


async def test_parallel_payments_never_break_the_credit_limit(ledger):
    """200 parallel payments from an account near its limit: exactly those that fit are
    booked, each once; the refused ones leave nothing; the audit is clean."""
    payees = [f"payee{i:02d}" for i in range(10)]
    for name in payees:
        await ledger.write(open_member_account, name, T0)
    await ledger.write(create_transfer, TransferRequest("start", "alice", "bob", 9_000, "KRZ"), T0)
    requests = [TransferRequest(f"p{i:03d}", "alice", payees[i % 10], 7, "KRZ") for i in range(200)]
    crossing = [  # unrelated traffic in both directions, to shake out lock-order deadlocks
        TransferRequest(f"x{i:03d}", *(("bob", "carol") if i % 2 else ("carol", "bob")), 1, "KRZ")
        for i in range(60)
    ]
    results = await asyncio.gather(
        *(ledger.write(create_transfer, r, T0 + 1) for r in requests + crossing),
        return_exceptions=True,
    )
    accepted = [
        r for r, out in zip(requests, results, strict=False) if not isinstance(out, Exception)
    ]
    refused = [out for out in results[:200] if isinstance(out, Exception)]
    assert all(isinstance(e, CreditLimitExceeded) for e in refused)
    assert not [out for out in results[200:] if isinstance(out, Exception)]
    assert len(accepted) == 1_000 // 7  # 10.00 left, 0.07 each
    alice = await ledger.read(get_account, "alice")
    assert alice.available_minor == -9_000 - 7 * len(accepted) >= -10_000
    for request in requests:
        stored = await ledger.read(find_transfer, request.transfer_id)
        assert (stored is not None) == (request in accepted)
    assert await ledger.read(audit) == []


async def test_parallel_replays_book_once(ledger):
    """Fifty concurrent sends of one transfer id book it once and all get the same answer."""
    request = TransferRequest("once", "alice", "bob", 250, "KRZ")
    results = await asyncio.gather(*(ledger.write(create_transfer, request, T0) for _ in range(50)))
    assert len(set(results)) == 1
    assert (await ledger.read(get_account, "bob")).balance_minor == 250
    assert await ledger.read(audit) == []


async def test_parallel_resolutions_of_one_hold_let_exactly_one_win(ledger):
    """Concurrent posts and voids of the same hold: one succeeds, the rest are refused."""
    hold = TransferRequest("h", "alice", "bob", 1_000, "KRZ")
    await ledger.write(create_pending, hold, T0 + 10**9, T0)
    calls = [ledger.write(post_pending, f"p{i}", "h", T0 + 1) for i in range(20)]
    calls += [ledger.write(void_pending, f"v{i}", "h", T0 + 1) for i in range(20)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, TransferNotPending) for r in results if r not in winners)
    assert await ledger.read(audit) == []


async def test_lazy_and_scheduled_demurrage_race_without_double_charges(ledger):
    """Payments that settle due demurrage lazily, racing scheduled runs, charge each
    (account, day) once and on the balance at the day's end."""
    settings = await ledger.read(get_settings)
    daily = replace(settings, demurrage_rate_bps=100, demurrage_period=Period.DAY)
    await ledger.write(update_settings, replace(daily, demurrage_free_threshold_minor=0), T0)
    names = [f"d{i:02d}" for i in range(12)]
    for name in names:
        await ledger.write(open_member_account, name, T0)
        fund = TransferRequest(f"fund-{name}", "issuance", name, 10_000, "KRZ", reference="fund")
        await ledger.write(create_transfer, fund, T0)
    later = T0 + 3 * 86_400 * 1_000_000
    pairs = [(names[i % 12], names[(i * 5 + 1) % 12]) for i in range(120)]
    requests = [TransferRequest(f"q{i}", *pair, 10, "KRZ") for i, pair in enumerate(pairs)]
    payments = [ledger.write(create_transfer, request, later) for request in requests]
    runs = [ledger.write(run_demurrage, later, limit=5) for _ in range(6)]
    results = await asyncio.gather(*payments, *runs, return_exceptions=True)
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(await ledger.read(list_transfers_by_reference, "fund")) == 12
    for name in names:
        charged = []
        for day in (0, 1, 2):
            start = period_start_us(T0 + day * 86_400 * 1_000_000, Period.DAY)
            found = await ledger.read(find_transfer, demurrage_transfer_id(name, start, Period.DAY))
            charged.append(found.amount_minor if found else None)
        assert charged == [100, 99, 98], name  # 1 % of 100.00, of 99.00, of 98.01
    assert await ledger.read(audit) == []
