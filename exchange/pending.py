"""Two-phase transfers after the hold: post (all or part), void, expire, and the state.

A pending transfer (`exchange.transfers.create_pending`) is never edited. Resolving it
books a new transfer whose ``pending_id`` names it; that column is unique, so a hold is
resolved at most once, even by concurrent requests. ``ledger_holds`` indexes the holds
still open, so the expiry worker finds them without scanning history; resolving deletes
the index row. The state of a pending transfer is derived (`get_pending_state`).

Holds keep counting against limits until they are resolved, including after their
expiry until `expire_pending` runs; posting or voiding after the expiry is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, delete, select

from exchange import tables
from exchange.booking import AccountState, Booking, Phase, Transfer, transfer_from_row
from exchange.demurrage import settle_due
from exchange.errors import InvalidAmount, LedgerError, TransferExpired, TransferNotPending
from exchange.money import check_amount
from exchange.transfers import check_id, check_memo, get_transfer, replay_or_raise


def _resolve(
    conn: Connection,
    transfer_id: str,
    pending_id: str,
    phase: Phase,
    amount_minor: int | None,
    memo: str,
    now_us: int,
) -> Transfer:
    check_id(transfer_id)
    check_memo(memo)
    pending = get_transfer(conn, pending_id)
    if pending.phase is not Phase.PENDING:
        raise TransferNotPending(pending_id)
    amount = pending.amount_minor if amount_minor is None else check_amount(amount_minor)
    if amount > pending.amount_minor:
        raise InvalidAmount("cannot post more than the pending amount")
    booking = Booking.lock(conn, (pending.debit_account_id, pending.credit_account_id), now_us)
    expected = {"phase": phase, "pending_id": pending_id, "amount_minor": amount, "memo": memo}
    h = tables.holds
    if conn.execute(delete(h).where(h.c.pending_id == pending_id)).rowcount != 1:
        return replay_or_raise(booking, transfer_id, expected, TransferNotPending(pending_id))
    try:
        if now_us >= (pending.expires_at_us or 0):
            raise TransferExpired(pending_id)
        debit = booking.open_account(pending.debit_account_id)
        credit = booking.open_account(pending.credit_account_id)
        settle_due(booking, debit)
        settle_due(booking, credit)
    except LedgerError as error:
        return replay_or_raise(booking, transfer_id, expected, error)
    transfer = _record_resolution(booking, transfer_id, phase, pending, amount, memo, debit, credit)
    if transfer is None:
        return replay_or_raise(booking, transfer_id, expected, None)
    booking.flush()
    return transfer


def _record_resolution(
    booking: Booking,
    transfer_id: str,
    phase: Phase,
    pending: Transfer,
    amount_minor: int,
    memo: str,
    debit: AccountState,
    credit: AccountState,
    *,
    idempotent: bool = True,
) -> Transfer | None:
    return booking.record(
        transfer_id=transfer_id,
        phase=phase,
        kind=pending.kind,
        debit=debit,
        credit=credit,
        amount_minor=amount_minor,
        memo=memo,
        reference=pending.reference,
        pending_id=pending.id,
        pending_minor=pending.amount_minor,
        idempotent=idempotent,
    )


def post_pending(
    conn: Connection,
    transfer_id: str,
    pending_id: str,
    now_us: int,
    *,
    amount_minor: int | None = None,
    memo: str = "",
) -> Transfer:
    """Post a pending transfer: all of it, or ``amount_minor`` of it (the rest is released).

    Raises `UnknownTransfer`, `TransferNotPending` (already resolved), `TransferExpired`,
    `InvalidAmount` (more than held), `AccountClosed`, `IdempotencyConflict`.
    """
    return _resolve(conn, transfer_id, pending_id, Phase.POST, amount_minor, memo, now_us)


def void_pending(
    conn: Connection, transfer_id: str, pending_id: str, now_us: int, *, memo: str = ""
) -> Transfer:
    """Release a pending transfer before its expiry; raises as `post_pending` does."""
    return _resolve(conn, transfer_id, pending_id, Phase.VOID, None, memo, now_us)


def expire_pending(conn: Connection, now_us: int, *, limit: int = 500) -> list[Transfer]:
    """Release up to ``limit`` holds whose expiry has passed (oldest expiry first); call
    again until it returns nothing. Each release is a transfer ``expire:<pending id>``."""
    h, t = tables.holds, tables.transfers
    rows = conn.execute(
        select(t)
        .join(h, h.c.pending_id == t.c.id)
        .where(h.c.expires_at_us <= now_us)
        .order_by(h.c.expires_at_us, h.c.pending_id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    pendings = [transfer_from_row(row) for row in rows]
    booking = Booking.lock(
        conn, {i for p in pendings for i in (p.debit_account_id, p.credit_account_id)}, now_us
    )
    ids = [p.id for p in pendings]
    # Re-read under the locks: a hold resolved meanwhile is no longer ours to expire.
    still_open = set(conn.execute(select(h.c.pending_id).where(h.c.pending_id.in_(ids))).scalars())
    conn.execute(delete(h).where(h.c.pending_id.in_(ids)))
    expired = []
    for pending in pendings:
        if pending.id not in still_open:
            continue
        debit = booking.account(pending.debit_account_id)
        credit = booking.account(pending.credit_account_id)
        settle_due(booking, debit)
        settle_due(booking, credit)
        transfer = _record_resolution(
            booking, f"expire:{pending.id}", Phase.EXPIRE, pending, pending.amount_minor,
            "expired", debit, credit, idempotent=False,
        )  # fmt: skip
        assert transfer is not None
        expired.append(transfer)
    booking.flush()
    return expired


class PendingStatus(StrEnum):
    PENDING = "pending"  # held, not yet resolved, not yet expired
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"  # released at expiry, or expired and awaiting release


@dataclass(frozen=True, slots=True)
class PendingState:
    """A pending transfer, its derived status and its resolution, if any."""

    status: PendingStatus
    pending: Transfer
    resolution: Transfer | None


_STATUS = {Phase.POST: PendingStatus.POSTED, Phase.VOID: PendingStatus.VOIDED}


def get_pending_state(conn: Connection, pending_id: str, now_us: int) -> PendingState:
    """Derive a pending transfer's state; raises `UnknownTransfer`, `TransferNotPending`."""
    pending = get_transfer(conn, pending_id)
    if pending.phase is not Phase.PENDING:
        raise TransferNotPending(pending_id)
    t = tables.transfers
    row = conn.execute(select(t).where(t.c.pending_id == pending_id)).first()
    if row is not None:
        resolution = transfer_from_row(row)
        status = _STATUS.get(resolution.phase, PendingStatus.EXPIRED)
        return PendingState(status, pending, resolution)
    expired = now_us >= (pending.expires_at_us or 0)
    return PendingState(PendingStatus.EXPIRED if expired else PendingStatus.PENDING, pending, None)
