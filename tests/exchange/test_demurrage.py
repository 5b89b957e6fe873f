"""Demurrage on the ledger: lazy and scheduled, idempotent per period, catching up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from exchange.accounts import DEMURRAGE, get_account
from exchange.audit import audit
from exchange.demurrage import apply_due_demurrage, run_demurrage
from exchange.periods import Period
from exchange.settings import get_settings, update_settings
from exchange.transfers import (
    TransferKind,
    TransferRequest,
    create_pending,
    create_transfer,
    find_transfer,
)
from tests.exchange.conftest import T0
from tests.exchange.snapshots import ledger_snapshot


def us(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp()) * 1_000_000


async def turn_on(db, rate_bps: int = 100, period: Period = Period.MONTH, free: int = 10_000):
    settings = await db.read(get_settings)
    changed = replace(
        settings,
        demurrage_rate_bps=rate_bps,
        demurrage_period=period,
        demurrage_free_threshold_minor=free,
    )
    await db.write(update_settings, changed, T0)


async def fund(db, account_id: str, amount: int, at_us: int = T0) -> None:
    request = TransferRequest(f"fund-{account_id}-{at_us}", "issuance", account_id, amount, "KRZ")
    await db.write(create_transfer, request, at_us)


async def test_a_month_is_charged_on_the_excess_after_it_ends(ledger):
    """1 % of the balance above 100.00, booked to demurrage once the month is over."""
    await turn_on(ledger)
    await fund(ledger, "alice", 30_000)  # 300.00: 200.00 above the threshold
    assert (await ledger.write(run_demurrage, us(2023, 11, 30))).transfers == ()
    run = await ledger.write(run_demurrage, us(2023, 12, 1))
    assert [(t.id, t.amount_minor, t.kind) for t in run.transfers] == [
        ("demurrage:alice:2023-11", 200, TransferKind.DEMURRAGE)
    ]
    assert (await ledger.read(get_account, "alice")).balance_minor == 29_800
    assert (await ledger.read(get_account, DEMURRAGE)).balance_minor == 200
    assert await ledger.read(audit) == []


async def test_running_twice_charges_once(ledger):
    """A second run for the same period, or lazy settling after it, charges nothing."""
    await turn_on(ledger)
    await fund(ledger, "alice", 30_000)
    await ledger.write(run_demurrage, us(2023, 12, 2))
    before = await ledger.read(ledger_snapshot)
    again = await ledger.write(run_demurrage, us(2023, 12, 3))
    assert (again.transfers, again.more) == ((), False)
    assert await ledger.write(apply_due_demurrage, "alice", us(2023, 12, 4)) == []
    assert await ledger.read(ledger_snapshot) == before


async def test_a_missed_run_catches_up_every_period_in_order(ledger):
    """Three months missed: three charges, each on the balance the previous one left."""
    await turn_on(ledger)
    await fund(ledger, "alice", 30_000)
    run = await ledger.write(run_demurrage, us(2024, 2, 10))
    assert [(t.id, t.amount_minor) for t in run.transfers] == [
        ("demurrage:alice:2023-11", 200),  # 1 % of 200.00
        ("demurrage:alice:2023-12", 198),  # 1 % of 198.00
        ("demurrage:alice:2024-01", 196),  # 1 % of 196.02 = 1.9602 -> 1.96
    ]
    assert (await ledger.read(get_account, "alice")).balance_minor == 30_000 - 594


async def test_lazy_settling_before_a_transfer_equals_the_scheduled_run(ledger):
    """A transfer after missed periods first charges them, on the balance at their end."""
    await turn_on(ledger)
    await fund(ledger, "alice", 30_000)
    request = TransferRequest("t1", "alice", "bob", 1_000, "KRZ")
    await ledger.write(create_transfer, request, us(2024, 2, 10))
    ids = ["demurrage:alice:2023-11", "demurrage:alice:2023-12", "demurrage:alice:2024-01"]
    charged = [await ledger.read(find_transfer, i) for i in ids]
    assert [t.amount_minor for t in charged if t] == [200, 198, 196]
    t1 = await ledger.read(find_transfer, "t1")
    assert t1 is not None and t1.ordinal > max(t.ordinal for t in charged if t)
    assert (await ledger.read(get_account, "alice")).balance_minor == 30_000 - 594 - 1_000
    assert (await ledger.write(run_demurrage, us(2024, 2, 11))).transfers == ()
    assert await ledger.read(audit) == []


async def test_daily_periods_and_tiny_balances(ledger):
    """Daily demurrage charges per day; an excess whose fee rounds to 0 is not charged."""
    await turn_on(ledger, rate_bps=2, period=Period.DAY, free=0)
    await fund(ledger, "alice", 100_000)
    await fund(ledger, "bob", 2_000)  # 2 bps of 20.00 = 0.4 minor units -> 0
    run = await ledger.write(run_demurrage, T0 + 3 * 86_400 * 1_000_000)
    assert [(t.debit_account_id, t.amount_minor) for t in run.transfers] == [("alice", 20)] * 3
    assert (await ledger.read(get_account, "bob")).balance_minor == 2_000


async def test_holds_are_not_charged_and_debts_never(ledger):
    """Demurrage is on the available balance above the threshold; negative balances pay none."""
    await turn_on(ledger, free=0)
    await fund(ledger, "alice", 10_000)
    hold = TransferRequest("h1", "alice", "bob", 4_000, "KRZ")
    await ledger.write(create_pending, hold, us(2024, 1, 1), T0 + 1)
    run = await ledger.write(run_demurrage, us(2023, 12, 1))
    assert [(t.debit_account_id, t.amount_minor) for t in run.transfers] == [("alice", 60)]


async def test_turning_demurrage_on_does_not_charge_the_past(ledger):
    """Periods that ended while the rate was zero are never charged."""
    await fund(ledger, "alice", 30_000)
    settings = await ledger.read(get_settings)
    await ledger.write(update_settings, replace(settings, demurrage_rate_bps=100), us(2024, 3, 15))
    assert (await ledger.write(run_demurrage, us(2024, 3, 20))).transfers == ()
    run = await ledger.write(run_demurrage, us(2024, 4, 1))
    assert [t.id for t in run.transfers] == ["demurrage:alice:2024-03"]


async def test_scheduled_runs_go_in_batches(ledger):
    """run_demurrage settles at most `limit` accounts per call and says when more are due."""
    await turn_on(ledger, free=0)
    for name in ("alice", "bob"):
        await fund(ledger, name, 10_000)
    runs = [await ledger.write(run_demurrage, us(2023, 12, 1), limit=2) for _ in range(3)]
    assert [(r.accounts_settled, r.more) for r in runs] == [(2, True), (1, False), (0, False)]
    assert sum(len(r.transfers) for r in runs) == 2
    assert await ledger.read(audit) == []
