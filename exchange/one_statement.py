"""Posted payments on PostgreSQL in one statement: `create_transfer` at one round trip,
several payments to a statement.

On PostgreSQL every statement is a round trip (~400 µs on the dev machine), and the
ordinary path (`exchange.transfers.create_transfer` through ``Database.write``) takes
five: BEGIN, the locking SELECT, the INSERT, the UPDATE, COMMIT. `TRANSFERS` does the
same work as one data-modifying CTE, for a batch of payments given as arrays, run on a
connection in autocommit mode (the statement is its own transaction, so it is atomic
and needs no BEGIN or COMMIT). ``Database.fetch_batched`` gathers the payments sent
while earlier statements run, never two that share an account or an id (`_Batch.keys`),
so each payment of a statement is checked and booked as if it were alone, and the
batch pays one round trip and one commit. For each payment, the statement:

1. locks the accounts of the whole batch ``FOR UPDATE`` in `exchange.booking.lock_order`
   (the rows come out of the sort before they are locked, so the order holds), reading
   the currency and the settings beside them, as `Booking.lock` does;
2. decides one outcome, in the order the ordinary path raises: ledger not created,
   wrong currency, the id already used (then the stored row comes back and
   `exchange.transfers.replay_or_raise` decides: the same transfer, or
   `IdempotencyConflict`), unknown or closed accounts, demurrage due, then
   `Booking.check_limits` (credit limit counting outgoing holds, then the upper limit
   counting incoming ones). A payment that shares an account or an id with an earlier
   one of the same statement is not booked (``not_independent``; the batching never
   sends one, but the statement does not rely on that);
3. if all is well, inserts the transfer row with both accounts' next ``seq``, balance
   after and chain hash (`exchange.chain.chain_step` in SQL: ``sha256(previous ‖
   int8send(seq) ‖ int8send(balance) ‖ digest)``; the digest does not depend on any
   account's state, so Python computes it), and updates both accounts' totals, ``seq``
   and ``chain_hash``; the insert is ``ON CONFLICT (id) DO NOTHING`` and the updates
   run only for the rows it inserted, so a concurrent first booking of the same id
   wins cleanly. (Only the id is an arbiter: any other unique violation, of a chain's
   ``seq`` say, would be a bug and raises; the statement is then run again for each
   payment alone, and the failing one raises to its caller.)

A payment is declined (nothing written for it, `try_in_one_statement` returns ``None``)
when demurrage is due on either account (settling it books more transfers), when the
insert met a concurrent booking of the same id, or when it was ``not_independent``; the
caller then runs the ordinary path, which handles all three. Everything else the
ordinary path does for a single-phase transfer, this does, with the same errors:
`tests/exchange/test_one_statement.py` runs random payments through both paths, one at
a time and many at once, and compares the answers, transfers, balances and chains.

Only for a transfer that is a whole database transaction by itself: inside a larger
transaction (trades, clearing, issuance) keep calling `create_transfer`.
`post_transfer` chooses: the statement on PostgreSQL, the ordinary path otherwise or
when the statement declines. SQLite keeps the ordinary path: its single writer
group-commits and has no round trips to save.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
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

# One statement for a batch of payments; see the module docstring. The CASE lists the
# checks in the order in which the ordinary path raises (exchange.transfers._book_new,
# Booking.check_limits). Rows are looked up with ``id = ANY(array)``, which the one
# generic plan always answers from the index: ``IN (SELECT ... FROM request)`` let the
# plan made while the table was small scan all of ``ledger_transfers``' id index on
# every call (7,500 against 10,200 payments/s on a fresh ledger, bench/ledger.py).
TRANSFERS = text(f"""
WITH request AS (
    SELECT * FROM unnest(
        CAST(:ids AS varchar[]), CAST(:kinds AS varchar[]), CAST(:debits AS varchar[]),
        CAST(:credits AS varchar[]), CAST(:amounts AS bigint[]),
        CAST(:currencies AS varchar[]), CAST(:memos AS varchar[]),
        CAST(:references AS varchar[]), CAST(:now_us AS bigint[]),
        CAST(:digests AS bytea[]), CAST(:day_starts_us AS bigint[]),
        CAST(:month_starts_us AS bigint[])
    ) WITH ORDINALITY AS r(id, kind, debit, credit, amount, currency, memo, reference,
                           now_us, digest, day_start_us, month_start_us, n)
), ledger AS (
    SELECT c.code, s.demurrage_rate_bps AS rate_bps, s.demurrage_since_us AS since_us,
           s.demurrage_period = :day AS daily
    FROM ledger_currency c JOIN ledger_settings s ON s.id = 1
    WHERE c.id = 1
), locked AS (
    SELECT id, kind, credit_limit_minor, upper_limit_minor,
           credits_posted_minor - debits_posted_minor AS balance_minor,
           debits_pending_minor, credits_pending_minor, seq, chain_hash,
           demurrage_settled_to_us, closed_at_us IS NOT NULL AS closed
    FROM ledger_accounts
    WHERE id = ANY(CAST(:debits AS varchar[]) || CAST(:credits AS varchar[]))
    ORDER BY id = :sink, id
    FOR UPDATE
), existing AS (
    SELECT {_COLUMNS} FROM ledger_transfers WHERE id = ANY(CAST(:ids AS varchar[]))
), verdict AS (
    SELECT r.*, CASE
        WHEN EXISTS (SELECT FROM request o WHERE o.n < r.n
                     AND (o.id = r.id OR o.debit IN (r.debit, r.credit)
                          OR o.credit IN (r.debit, r.credit))) THEN 'not_independent'
        WHEN l.code IS NULL THEN 'not_ready'
        WHEN l.code <> r.currency THEN 'wrong_currency'
        WHEN EXISTS (SELECT FROM existing e WHERE e.id = r.id) THEN 'exists'
        WHEN d.id IS NULL THEN 'unknown_debit'
        WHEN d.closed THEN 'closed_debit'
        WHEN c.id IS NULL THEN 'unknown_credit'
        WHEN c.closed THEN 'closed_credit'
        WHEN l.rate_bps <> 0 AND (
            (d.kind = :member AND GREATEST(d.demurrage_settled_to_us, l.since_us)
                < CASE WHEN l.daily THEN r.day_start_us ELSE r.month_start_us END)
            OR (c.kind = :member AND GREATEST(c.demurrage_settled_to_us, l.since_us)
                < CASE WHEN l.daily THEN r.day_start_us ELSE r.month_start_us END))
            THEN 'demurrage_due'
        WHEN d.credit_limit_minor IS NOT NULL
             AND d.balance_minor - d.debits_pending_minor - r.amount < -d.credit_limit_minor
             THEN 'credit_limit'
        WHEN c.upper_limit_minor IS NOT NULL
             AND c.balance_minor + c.credits_pending_minor + r.amount > c.upper_limit_minor
             THEN 'upper_limit'
        ELSE 'ok' END AS outcome,
        l.code AS ledger_code,
        d.seq + 1 AS debit_seq, d.balance_minor - r.amount AS debit_balance_minor,
        d.chain_hash AS debit_previous,
        c.seq + 1 AS credit_seq, c.balance_minor + r.amount AS credit_balance_minor,
        c.chain_hash AS credit_previous
    FROM request r
    LEFT JOIN ledger l ON true
    LEFT JOIN locked d ON d.id = r.debit
    LEFT JOIN locked c ON c.id = r.credit
), new AS (
    SELECT *,
           sha256(debit_previous || int8send(debit_seq) || int8send(debit_balance_minor)
                  || digest) AS debit_hash,
           sha256(credit_previous || int8send(credit_seq) || int8send(credit_balance_minor)
                  || digest) AS credit_hash
    FROM verdict WHERE outcome = 'ok'
), inserted AS (
    INSERT INTO ledger_transfers ({_NEW_COLUMNS})
    SELECT id, :phase, kind, debit, credit, amount, NULL, NULL, now_us, memo, reference,
           debit_seq, credit_seq, debit_balance_minor, credit_balance_minor,
           debit_hash, credit_hash
    FROM new ORDER BY n
    ON CONFLICT (id) DO NOTHING
    RETURNING {_COLUMNS}
), changes AS (
    SELECT id AS transfer_id, debit AS account_id, debit_seq AS seq, debit_hash AS hash,
           amount AS debited, CAST(0 AS bigint) AS credited
    FROM new WHERE id IN (SELECT id FROM inserted)
    UNION ALL
    SELECT id, credit, credit_seq, credit_hash, 0, amount
    FROM new WHERE id IN (SELECT id FROM inserted)
), updated AS (
    UPDATE ledger_accounts a
    SET debits_posted_minor = a.debits_posted_minor + changes.debited,
        credits_posted_minor = a.credits_posted_minor + changes.credited,
        seq = changes.seq, chain_hash = changes.hash
    FROM changes
    WHERE a.id = changes.account_id
    RETURNING changes.transfer_id
)
SELECT v.outcome, v.ledger_code,
       (SELECT count(*) FROM updated u WHERE u.transfer_id = v.id) AS updated, t.*
FROM verdict v
LEFT JOIN (SELECT * FROM existing UNION ALL SELECT * FROM inserted) t
    ON t.id = v.id AND v.outcome IN ('ok', 'exists')
ORDER BY v.n
""")


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment for the statement: the request and the time it is booked at."""

    request: TransferRequest
    now_us: int

    def row(self) -> tuple[Any, ...]:
        """The payment's values, in the order of the statement's array parameters."""
        request, now_us = self.request, self.now_us
        digest = transfer_digest(
            request.transfer_id, Phase.SINGLE.value, request.kind.value,
            request.debit_account_id, request.credit_account_id, request.amount_minor,
            None, None, now_us, request.memo, request.reference,
        )  # fmt: skip
        return (
            request.transfer_id, request.kind.value, request.debit_account_id,
            request.credit_account_id, request.amount_minor, request.currency_code,
            request.memo, request.reference, now_us, digest,
            period_start_us(now_us, Period.DAY), period_start_us(now_us, Period.MONTH),
        )  # fmt: skip


#: The statement's array parameters, in the order of `Payment.row`.
_ARRAYS = (
    "ids", "kinds", "debits", "credits", "amounts", "currencies", "memos", "references",
    "now_us", "digests", "day_starts_us", "month_starts_us",
)  # fmt: skip
_CONSTANTS = {
    "phase": Phase.SINGLE.value,
    "sink": DEMURRAGE,
    "member": AccountKind.MEMBER.value,
    "day": Period.DAY.value,
}


class _Batch:
    """`TRANSFERS` as a ``Database.fetch_batched`` statement: payments that share no
    account and no id go to one statement."""

    @cached_property
    def _prepared(self) -> sql.Prepared:
        return sql.compile_positional(asyncpg.dialect(), TRANSFERS)  # type: ignore[no-untyped-call]

    @property
    def sql(self) -> str:
        return self._prepared.sql

    def arguments(self, items: Sequence[Payment]) -> tuple[Any, ...]:
        columns = zip(*(item.row() for item in items), strict=True)
        return self._prepared.arguments(
            {**_CONSTANTS, **dict(zip(_ARRAYS, map(list, columns), strict=True))}
        )

    def keys(self, item: Payment) -> tuple[Hashable, ...]:
        request = item.request
        return (
            ("transfer", request.transfer_id),
            ("account", request.debit_account_id),
            ("account", request.credit_account_id),
        )


#: One per process, stateless: the database keeps the payments waiting for it.
BATCH = _Batch()


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


class Writer(Protocol):
    """What `post_transfer` needs of the application's database (``Database``)."""

    @property
    def dialect(self) -> str: ...

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    async def fetch_batched(self, batch: _Batch, item: Payment) -> tuple[Any, ...]: ...


async def try_in_one_statement(
    db: Writer, request: TransferRequest, now_us: int
) -> Transfer | None:
    """`create_transfer` in one statement and its own transaction, on PostgreSQL;
    ``None`` if it declined (nothing written: run the ordinary path).

    Raises what `create_transfer` raises.
    """
    check_request(request)
    row = await db.fetch_batched(BATCH, Payment(request, now_us))
    return _outcome(row, request)


async def post_transfer(db: Writer, request: TransferRequest, now_us: int) -> Transfer:
    """`create_transfer` as a whole database transaction: one statement on PostgreSQL
    when it can (see the module docstring), else the ordinary path."""
    if db.dialect == "postgresql":
        transfer = await try_in_one_statement(db, request, now_us)
        if transfer is not None:
            return transfer
    return await db.write(create_transfer, request, now_us)
