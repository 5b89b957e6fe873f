"""A posted transfer in one PostgreSQL statement: `create_transfer` at one round trip.

On PostgreSQL every statement is a round trip (~400 µs on the dev machine), and the
ordinary path (`exchange.transfers.create_transfer` through ``Database.write``) takes
five: BEGIN, the locking SELECT, the INSERT, the UPDATE, COMMIT. `TRANSFER` does the
same work as one data-modifying CTE, run on a connection in autocommit mode (the
statement is its own transaction, so it is atomic and needs no BEGIN or COMMIT):

1. lock both accounts ``FOR UPDATE`` in `exchange.booking.lock_order` (the rows come
   out of the sort before they are locked, so the order holds), reading the currency
   and the settings beside them, as `Booking.lock` does;
2. decide one outcome, in the order the ordinary path raises: ledger not created,
   wrong currency, the id already used (then the stored row comes back and
   `exchange.transfers.replay_or_raise` decides: the same transfer, or
   `IdempotencyConflict`), unknown or closed accounts, demurrage due, then
   `Booking.check_limits` (credit limit counting outgoing holds, then the upper limit
   counting incoming ones);
3. if all is well, insert the transfer row with both accounts' next ``seq``, balance
   after and chain hash (`exchange.chain.chain_step` in SQL: ``sha256(previous ‖
   int8send(seq) ‖ int8send(balance) ‖ digest)``; the digest does not depend on any
   account's state, so Python computes it), and update both accounts' totals, ``seq``
   and ``chain_hash``; the insert is ``ON CONFLICT (id) DO NOTHING`` and the update
   runs only if it inserted, so a concurrent first booking of the same id wins cleanly.
   (Only the id is an arbiter: any other unique violation, of a chain's ``seq`` say,
   would be a bug and raises. Naming it also spares probing the four other unique
   indexes before the insert.)

It declines (writes nothing, returns ``None``) when demurrage is due on either account
(settling it books more transfers) or when the insert met a concurrent booking of the
same id; the caller then runs the ordinary path, which handles both. Everything else
the ordinary path does for a single-phase transfer, this does, with the same errors:
`tests/exchange/test_one_statement.py` runs random payments through both paths and
compares the transfers, balances, chain heads and errors.

Only for a transfer that is a whole database transaction by itself: inside a larger
transaction (trades, clearing, issuance) keep calling `create_transfer`.
`post_transfer` chooses: one statement on PostgreSQL, the ordinary path otherwise or
when the statement declines. SQLite keeps the ordinary path: its single writer
group-commits and has no round trips to save.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import cache
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import asyncpg

from exchange import sql, tables
from exchange.accounts import AccountKind
from exchange.booking import (
    DEMURRAGE,
    Phase,
    Transfer,
    TransferKind,
    ledger_not_ready,
    wrong_currency,
)
from exchange.chain import transfer_digest
from exchange.errors import (
    AccountClosed,
    CreditLimitExceeded,
    IdempotencyConflict,
    LedgerError,
    UnknownAccount,
    UpperLimitExceeded,
)
from exchange.periods import Period, period_start_us
from exchange.transfers import (
    TransferRequest,
    check_request,
    create_transfer,
    expected_values,
    same_transfer,
)

P = ParamSpec("P")
T = TypeVar("T")

#: The transfer's columns, in the order of `Transfer`'s fields.
_COLUMNS = ", ".join(f.name for f in fields(Transfer))
_NEW_COLUMNS = ", ".join(c.name for c in tables.transfers.c if c.name != "ordinal")

# One statement; see the module docstring. The CASE lists the checks in the order in
# which the ordinary path raises (exchange.transfers._book_new, Booking.check_limits).
TRANSFER = text(f"""
WITH ledger AS (
    SELECT c.code, s.demurrage_rate_bps AS rate_bps, s.demurrage_since_us AS since_us,
           CASE s.demurrage_period WHEN :day THEN CAST(:day_start_us AS bigint)
                ELSE CAST(:month_start_us AS bigint) END AS period_start_us
    FROM ledger_currency c JOIN ledger_settings s ON s.id = 1
    WHERE c.id = 1
), locked AS (
    SELECT id, kind, credit_limit_minor, upper_limit_minor,
           credits_posted_minor - debits_posted_minor AS balance_minor,
           debits_pending_minor, credits_pending_minor, seq, chain_hash,
           demurrage_settled_to_us, closed_at_us IS NOT NULL AS closed
    FROM ledger_accounts
    WHERE id IN (:debit, :credit)
    ORDER BY id = :sink, id
    FOR UPDATE
), existing AS (
    SELECT {_COLUMNS} FROM ledger_transfers WHERE id = :id
), verdict AS (
    SELECT CASE
        WHEN l.code IS NULL THEN 'not_ready'
        WHEN l.code <> :currency THEN 'wrong_currency'
        WHEN EXISTS (SELECT FROM existing) THEN 'exists'
        WHEN d.id IS NULL THEN 'unknown_debit'
        WHEN d.closed THEN 'closed_debit'
        WHEN c.id IS NULL THEN 'unknown_credit'
        WHEN c.closed THEN 'closed_credit'
        WHEN l.rate_bps <> 0 AND (
            (d.kind = :member AND GREATEST(d.demurrage_settled_to_us, l.since_us)
                                  < l.period_start_us)
            OR (c.kind = :member AND GREATEST(c.demurrage_settled_to_us, l.since_us)
                                     < l.period_start_us)) THEN 'demurrage_due'
        WHEN d.credit_limit_minor IS NOT NULL
             AND d.balance_minor - d.debits_pending_minor - :amount < -d.credit_limit_minor
             THEN 'credit_limit'
        WHEN c.upper_limit_minor IS NOT NULL
             AND c.balance_minor + c.credits_pending_minor + :amount > c.upper_limit_minor
             THEN 'upper_limit'
        ELSE 'ok' END AS outcome,
        l.code,
        d.seq + 1 AS debit_seq, d.balance_minor - :amount AS debit_balance_minor,
        d.chain_hash AS debit_previous,
        c.seq + 1 AS credit_seq, c.balance_minor + :amount AS credit_balance_minor,
        c.chain_hash AS credit_previous
    FROM (SELECT) AS one
    LEFT JOIN ledger l ON true
    LEFT JOIN (SELECT * FROM locked WHERE id = :debit) d ON true
    LEFT JOIN (SELECT * FROM locked WHERE id = :credit) c ON true
), new AS (
    SELECT debit_seq, debit_balance_minor, credit_seq, credit_balance_minor,
           sha256(debit_previous || int8send(debit_seq) || int8send(debit_balance_minor)
                  || :digest) AS debit_hash,
           sha256(credit_previous || int8send(credit_seq) || int8send(credit_balance_minor)
                  || :digest) AS credit_hash
    FROM verdict WHERE outcome = 'ok'
), inserted AS (
    INSERT INTO ledger_transfers ({_NEW_COLUMNS})
    SELECT :id, :phase, :kind, :debit, :credit, :amount, NULL, NULL, :now_us, :memo,
           :reference, debit_seq, credit_seq, debit_balance_minor, credit_balance_minor,
           debit_hash, credit_hash
    FROM new
    ON CONFLICT (id) DO NOTHING
    RETURNING {_COLUMNS}
), changes AS (
    SELECT CAST(:debit AS varchar) AS id, debit_seq AS seq, debit_hash AS hash,
           CAST(:amount AS bigint) AS debited, CAST(0 AS bigint) AS credited
    FROM new
    UNION ALL
    SELECT :credit, credit_seq, credit_hash, 0, :amount FROM new
), updated AS (
    UPDATE ledger_accounts a
    SET debits_posted_minor = a.debits_posted_minor + changes.debited,
        credits_posted_minor = a.credits_posted_minor + changes.credited,
        seq = changes.seq, chain_hash = changes.hash
    FROM changes
    WHERE a.id = changes.id AND EXISTS (SELECT FROM inserted)
    RETURNING a.id
)
SELECT v.outcome, v.code, (SELECT count(*) FROM updated) AS updated, t.*
FROM verdict v
LEFT JOIN (SELECT * FROM existing UNION ALL SELECT * FROM inserted) t ON true
""")


def _parameters(request: TransferRequest, now_us: int) -> dict[str, Any]:
    phase = Phase.SINGLE
    digest = transfer_digest(
        request.transfer_id, phase.value, request.kind.value, request.debit_account_id,
        request.credit_account_id, request.amount_minor, None, None, now_us, request.memo,
        request.reference,
    )  # fmt: skip
    return {
        "id": request.transfer_id,
        "phase": phase.value,
        "kind": request.kind.value,
        "debit": request.debit_account_id,
        "credit": request.credit_account_id,
        "amount": request.amount_minor,
        "currency": request.currency_code,
        "memo": request.memo,
        "reference": request.reference,
        "now_us": now_us,
        "digest": digest,
        "sink": DEMURRAGE,
        "member": AccountKind.MEMBER.value,
        "day": Period.DAY.value,
        "day_start_us": period_start_us(now_us, Period.DAY),
        "month_start_us": period_start_us(now_us, Period.MONTH),
    }


def _stored(row: tuple[Any, ...]) -> Transfer:
    ordinal, transfer_id, phase, kind, *rest = row
    return Transfer(ordinal, transfer_id, Phase(phase), TransferKind(kind), *rest)


def _refusal(outcome: str, code: str | None, request: TransferRequest) -> LedgerError | None:
    """The error an outcome stands for (``None``: the statement declined)."""
    refusals: dict[str, Callable[[], LedgerError]] = {
        "not_ready": ledger_not_ready,
        "wrong_currency": lambda: wrong_currency(str(code)),
        "unknown_debit": lambda: UnknownAccount(request.debit_account_id),
        "closed_debit": lambda: AccountClosed(request.debit_account_id),
        "unknown_credit": lambda: UnknownAccount(request.credit_account_id),
        "closed_credit": lambda: AccountClosed(request.credit_account_id),
        "credit_limit": lambda: CreditLimitExceeded(request.debit_account_id),
        "upper_limit": lambda: UpperLimitExceeded(request.credit_account_id),
    }
    make = refusals.get(outcome)
    return None if make is None else make()


def _outcome(row: tuple[Any, ...], request: TransferRequest) -> Transfer | None:
    """The transfer the statement booked or found, or ``None`` if it declined; raises
    the error the ordinary path would."""
    outcome, code, updated, *stored = row
    if outcome == "ok":
        if stored[0] is None:
            return None  # a concurrent booking of the same id came first
        assert updated == 2, "the transfer row was written without its accounts"
        return _stored(tuple(stored))
    if outcome == "exists":
        existing = _stored(tuple(stored))
        if not same_transfer(existing, expected_values(request, Phase.SINGLE, None)):
            raise IdempotencyConflict(request.transfer_id)
        return existing
    error = _refusal(outcome, code, request)
    if error is None:
        return None  # demurrage is due
    raise error


@cache
def _compiled() -> sql.Prepared:
    return sql.compile_positional(asyncpg.dialect(), TRANSFER)  # type: ignore[no-untyped-call]


class Writer(Protocol):
    """What `post_transfer` needs of the application's database (``Database``)."""

    @property
    def dialect(self) -> str: ...

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def fetch_autocommit(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...


async def try_in_one_statement(
    db: Writer, request: TransferRequest, now_us: int
) -> Transfer | None:
    """`create_transfer` as one statement in its own transaction, on PostgreSQL;
    ``None`` if it declined (nothing written: run the ordinary path).

    Raises what `create_transfer` raises.
    """
    check_request(request)
    prepared = _compiled()
    arguments = prepared.arguments(_parameters(request, now_us))
    (row,) = await db.fetch_autocommit(prepared.sql, *arguments)
    return _outcome(row, request)


async def post_transfer(db: Writer, request: TransferRequest, now_us: int) -> Transfer:
    """`create_transfer` as a whole database transaction: one statement on PostgreSQL
    when it can (see the module docstring), else the ordinary path."""
    if db.dialect == "postgresql":
        transfer = await try_in_one_statement(db, request, now_us)
        if transfer is not None:
            return transfer
    return await db.write(create_transfer, request, now_us)
