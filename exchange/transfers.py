"""Transfers: immutable double-entry movements, single-phase or two-phase.

The public write API of the ledger. Every function takes a SQLAlchemy ``Connection``
inside a database transaction (``db.write``) and the clock as ``now_us``.

* `create_transfer` posts at once; `create_pending` holds an amount until it is
  posted (all or part of it), voided or expired: see `exchange.pending`.
* The transfer id is the idempotency key: the same id with the same parameters returns
  the stored transfer and changes nothing (even if the limits would now refuse it); the
  same id with other parameters raises `IdempotencyConflict`. A refused request
  leaves nothing behind, so sending it again is evaluated afresh.
* Every write first settles due demurrage of the member accounts it touches
  (`exchange.demurrage.settle_due`), then checks currency, amount, accounts (exist,
  open) and limits (see `Booking.check_limits`).

Ids chosen by callers are 1-200 characters and must not start with a prefix the ledger
uses for the transfers it derives (`RESERVED_PREFIXES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from exchange import tables
from exchange.booking import Booking, Phase, Transfer, TransferKind, transfer_from_row
from exchange.demurrage import is_due, settle_due
from exchange.errors import (
    IdempotencyConflict,
    InvalidRequest,
    LedgerError,
    TransferNotPending,
    UnknownTransfer,
)
from exchange.money import check_amount

__all__ = [
    "RESERVED_PREFIXES",
    "Phase",
    "Transfer",
    "TransferKind",
    "TransferRequest",
    "check_id",
    "check_memo",
    "check_request",
    "create_pending",
    "create_transfer",
    "expected_values",
    "find_transfer",
    "get_transfer",
    "list_transfers_by_reference",
    "replay_or_raise",
    "same_transfer",
]

#: Transfer ids the ledger derives itself; callers may not choose ids starting so.
RESERVED_PREFIXES = ("demurrage:", "expire:", "copay:")
MAX_ID_CHARS = 200
MAX_MEMO_CHARS = 500


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """A request to move ``amount_minor`` from ``debit_account_id`` to ``credit_account_id``."""

    transfer_id: str
    debit_account_id: str
    credit_account_id: str
    amount_minor: int
    currency_code: str
    kind: TransferKind = TransferKind.PAYMENT
    memo: str = ""
    reference: str | None = None


def check_id(value: str, what: str = "transfer id", *, max_chars: int = MAX_ID_CHARS) -> str:
    """Return ``value`` if it is a usable caller-chosen id; raises `InvalidRequest`.

    Transfer ids may not start with one of `RESERVED_PREFIXES`. ``max_chars`` is larger
    for ids the ledger derives (``peer:<domain>`` accounts, references it builds).
    """
    if not isinstance(value, str) or not 0 < len(value) <= max_chars:
        raise InvalidRequest(f"a {what} is 1-{max_chars} characters")
    if what == "transfer id" and value.startswith(RESERVED_PREFIXES):
        raise InvalidRequest(f"a transfer id may not start with {value.split(':')[0]}:")
    return value


def check_memo(memo: str) -> str:
    if not isinstance(memo, str) or len(memo) > MAX_MEMO_CHARS:
        raise InvalidRequest(f"a memo is at most {MAX_MEMO_CHARS} characters")
    return memo


def check_request(request: TransferRequest) -> None:
    check_id(request.transfer_id)
    check_id(request.debit_account_id, "account id", max_chars=tables.ID)
    check_id(request.credit_account_id, "account id", max_chars=tables.ID)
    check_amount(request.amount_minor)
    check_memo(request.memo)
    if request.reference is not None:
        check_id(request.reference, "reference", max_chars=tables.ID)
    if request.debit_account_id == request.credit_account_id:
        raise InvalidRequest("a transfer needs two different accounts")
    if not isinstance(request.kind, TransferKind):
        raise InvalidRequest("a transfer kind is one of TransferKind")


def find_transfer(conn: Connection, transfer_id: str) -> Transfer | None:
    t = tables.transfers
    row = conn.execute(select(t).where(t.c.id == transfer_id)).first()
    return None if row is None else transfer_from_row(row)


def get_transfer(conn: Connection, transfer_id: str) -> Transfer:
    """The stored transfer; raises `UnknownTransfer`."""
    found = find_transfer(conn, transfer_id)
    if found is None:
        raise UnknownTransfer(transfer_id)
    return found


def list_transfers_by_reference(conn: Connection, reference: str) -> list[Transfer]:
    """Every transfer carrying ``reference`` (a trade, payment or clearing id), in order."""
    t = tables.transfers
    rows = conn.execute(select(t).where(t.c.reference == reference).order_by(t.c.ordinal))
    return [transfer_from_row(row) for row in rows]


def replay_or_raise(
    booking: Booking, transfer_id: str, expected: dict[str, Any], error: LedgerError | None
) -> Transfer:
    """A request failed, or its id exists: return the stored transfer if it has the
    ``expected`` values, raise `IdempotencyConflict` if not, and ``error`` if there is none.
    """
    existing = find_transfer(booking.conn, transfer_id)
    if existing is None:
        if error is None:
            raise TransferNotPending(str(expected.get("pending_id")))
        raise error
    if not same_transfer(existing, expected):
        raise IdempotencyConflict(transfer_id)
    booking.flush()  # keep any demurrage that was settled on the way
    return existing


def same_transfer(existing: Transfer, expected: dict[str, Any]) -> bool:
    """Whether a stored transfer has the ``expected`` values (a replay, not a conflict)."""
    return all(getattr(existing, name) == value for name, value in expected.items())


def expected_values(
    request: TransferRequest, phase: Phase, expires_at_us: int | None
) -> dict[str, Any]:
    """What a stored transfer under ``request``'s id must hold to be its replay."""
    return {
        "phase": phase,
        "kind": request.kind,
        "debit_account_id": request.debit_account_id,
        "credit_account_id": request.credit_account_id,
        "amount_minor": request.amount_minor,
        "memo": request.memo,
        "reference": request.reference,
        "expires_at_us": expires_at_us,
    }


def _book_new(
    conn: Connection, request: TransferRequest, phase: Phase, expires_at_us: int | None, now_us: int
) -> Transfer:
    check_request(request)
    booking = Booking.lock(conn, (request.debit_account_id, request.credit_account_id), now_us)
    booking.check_currency(request.currency_code)
    expected = expected_values(request, phase, expires_at_us)
    try:
        if expires_at_us is not None and expires_at_us <= now_us:
            raise InvalidRequest("a pending transfer must expire in the future")
        debit = booking.open_account(request.debit_account_id)
        credit = booking.open_account(request.credit_account_id)
        if is_due(booking, debit) or is_due(booking, credit):
            # Settling books transfers; a replay must change nothing, so look first.
            replayed = find_transfer(conn, request.transfer_id)
            if replayed is not None:
                return replay_or_raise(booking, request.transfer_id, expected, None)
            settle_due(booking, debit)
            settle_due(booking, credit)
        booking.check_limits(debit, credit, request.amount_minor)
    except LedgerError as error:
        return replay_or_raise(booking, request.transfer_id, expected, error)
    transfer = booking.record(
        transfer_id=request.transfer_id,
        phase=phase,
        kind=request.kind,
        debit=debit,
        credit=credit,
        amount_minor=request.amount_minor,
        memo=request.memo,
        reference=request.reference,
        expires_at_us=expires_at_us,
    )
    if transfer is None:
        return replay_or_raise(booking, request.transfer_id, expected, None)
    if expires_at_us is not None:
        conn.execute(_INSERT_HOLD, {"pending_id": transfer.id, "expires_at_us": expires_at_us})
    booking.flush()
    return transfer


_INSERT_HOLD = tables.holds.insert()


def create_transfer(conn: Connection, request: TransferRequest, now_us: int) -> Transfer:
    """Post a transfer at once.

    Raises `InvalidRequest`/`InvalidAmount`, `WrongCurrency`, `UnknownAccount`,
    `AccountClosed`, `CreditLimitExceeded`, `UpperLimitExceeded`, `IdempotencyConflict`,
    `LedgerNotReady`.
    """
    return _book_new(conn, request, Phase.SINGLE, None, now_us)


def create_pending(
    conn: Connection, request: TransferRequest, expires_at_us: int, now_us: int
) -> Transfer:
    """Hold ``request.amount_minor`` until it is posted, voided or expires at ``expires_at_us``.

    The hold counts against the debit account's credit limit and the credit account's
    upper limit until it is resolved. Raises what `create_transfer` raises.
    """
    if type(expires_at_us) is not int or not 0 < expires_at_us < 2**62:
        raise InvalidRequest("a pending transfer needs an expiry")
    return _book_new(conn, request, Phase.PENDING, expires_at_us, now_us)
