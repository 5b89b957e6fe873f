"""Demurrage: a fee per period on members' balances above a free threshold.

The rule, precisely:

* Who: member accounts only (system and ``peer:`` accounts never pay it).
* When: per calendar period in UTC (a day or a month, `exchange.periods`). A period is
  charged once it has ended, at the first of: a transfer that touches the account
  (`settle_due`, called by every write path before it looks at the balance), the
  scheduled `run_demurrage`, or `apply_due_demurrage`. A member's first period is the one
  in which the account was opened; periods that began before demurrage was last switched
  on (``demurrage_since_us``) are not charged.
* On what: the member's *available* balance at the end of the period (posted balance
  minus outgoing holds) above ``demurrage_free_threshold_minor``. Every write settles
  due periods before it changes a balance, so the balance seen when a period is settled
  is the balance at its end, whether the settling happens lazily or in the scheduled run.
  Charging the available balance (not the posted one) means the fee can never take an
  account below the free threshold, hence never below its credit limit.
* How much: ``fee = round_half_even(excess x rate_bps / 10,000)``, integer arithmetic.
  Tiny excesses round to zero deterministically.
* Catch-up: a missed run charges every due period in order, each on the balance left by
  the previous one (compounding, as if the run had not been missed). Once a period's fee
  is zero the balance no longer changes, so the remaining periods are skipped.
* The rate and threshold in force when a period is settled apply (run demurrage before
  changing them to settle past periods at the old rate).
* Booking: a transfer from the member to the ``demurrage`` account, id
  ``demurrage:<account>:<period>`` (``2024-03`` or ``2024-03-15``); the unique id and
  the account's ``demurrage_settled_to_us`` make it idempotent per (account, period).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from exchange import tables
from exchange.booking import DEMURRAGE, AccountState, Booking, Phase, Transfer, TransferKind
from exchange.money import apply_bps
from exchange.periods import Period, period_end_us, period_label, period_start_us


def demurrage_fee_minor(available_minor: int, free_threshold_minor: int, rate_bps: int) -> int:
    """The fee for one period on a balance (0 at or below the free threshold)."""
    excess = available_minor - free_threshold_minor
    if excess <= 0 or rate_bps <= 0:
        return 0
    return apply_bps(excess, rate_bps)


def demurrage_transfer_id(account_id: str, period_start: int, period: Period) -> str:
    return f"demurrage:{account_id}:{period_label(period_start, period)}"


def _due(booking: Booking, state: AccountState) -> tuple[int, int, Period] | None:
    """(first unsettled period start, current period start, period) if any is due."""
    if state.kind != "member" or state.closed:
        return None
    ledger = booking.ledger
    if ledger.demurrage_rate_bps == 0:
        return None
    period = Period(ledger.demurrage_period)
    current = period_start_us(booking.now_us, period)
    start = max(state.demurrage_settled_to_us, ledger.demurrage_since_us)
    return (start, current, period) if start < current else None


def is_due(booking: Booking, state: AccountState) -> bool:
    """Whether `settle_due` would change ``state`` (cheap: no query)."""
    return _due(booking, state) is not None


def settle_due(booking: Booking, state: AccountState) -> list[Transfer]:
    """Charge every period of ``state`` that has ended and is not settled yet."""
    due = _due(booking, state)
    if due is None:
        return []
    start, current, period = due
    rate_bps = booking.ledger.demurrage_rate_bps
    threshold = booking.ledger.demurrage_free_threshold_minor
    booked = []
    while start < current:
        fee = demurrage_fee_minor(state.available_minor, threshold, rate_bps)
        if fee == 0:
            break  # the balance stays as it is, so no later period charges anything
        booked.append(_charge(booking, state, fee, start, period))
        start = period_end_us(start, period)
    state.demurrage_settled_to_us = current
    state.changed = True
    return booked


def _charge(
    booking: Booking, state: AccountState, fee_minor: int, start: int, period: Period
) -> Transfer:
    booking.lock_more([DEMURRAGE])  # last in the lock order, wherever we are
    transfer = booking.record(
        transfer_id=demurrage_transfer_id(state.id, start, period),
        phase=Phase.SINGLE,
        kind=TransferKind.DEMURRAGE,
        debit=state,
        credit=booking.account(DEMURRAGE),
        amount_minor=fee_minor,
        memo=f"demurrage {period_label(start, period)}",
        idempotent=False,
    )
    assert transfer is not None  # a plain insert either succeeds or raises
    return transfer


def apply_due_demurrage(conn: Connection, account_id: str, now_us: int) -> list[Transfer]:
    """Settle the due periods of one account now; raises `UnknownAccount`."""
    booking = Booking.lock(conn, [account_id], now_us)
    booked = settle_due(booking, booking.account(account_id))
    booking.flush()
    return booked


@dataclass(frozen=True, slots=True)
class DemurrageRun:
    """What one call of `run_demurrage` did; call again while ``more`` is true."""

    accounts_settled: int
    transfers: tuple[Transfer, ...]
    more: bool


def run_demurrage(conn: Connection, as_of_us: int, *, limit: int = 500) -> DemurrageRun:
    """Settle due periods for up to ``limit`` member accounts, as of ``as_of_us``.

    Idempotent: running it again (or after lazy settling) charges nothing twice.
    """
    booking = Booking(conn, as_of_us)
    ledger = booking.ledger
    if ledger.demurrage_rate_bps == 0:
        return DemurrageRun(0, (), False)
    current = period_start_us(as_of_us, Period(ledger.demurrage_period))
    if ledger.demurrage_since_us >= current:
        return DemurrageRun(0, (), False)  # no period since demurrage began has ended
    a = tables.accounts
    ids = list(
        conn.execute(
            select(a.c.id)
            .where(a.c.kind == "member", a.c.closed_at_us.is_(None))
            .where(a.c.demurrage_settled_to_us < current)
            .order_by(a.c.id)
            .limit(limit + 1)
        ).scalars()
    )
    more = len(ids) > limit
    booking.lock_more(ids[:limit])
    booked: list[Transfer] = []
    for account_id in ids[:limit]:
        booked.extend(settle_due(booking, booking.account(account_id)))
    booking.flush()
    return DemurrageRun(len(ids[:limit]), tuple(booked), more)
