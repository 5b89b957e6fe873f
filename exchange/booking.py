"""The write path under every ledger operation: lock accounts, check, book, flush.

A `Booking` is one unit of work inside one database transaction. It locks the rows of
the accounts it needs in a fixed order (by id, the ``demurrage`` sink always last: see
`lock_order`), reads the currency and settings in the same statement, keeps working
copies of the accounts (`AccountState`), appends transfer rows, and at the end writes
back every account it changed with one ``executemany`` UPDATE. A transfer thus costs
three statements: the locking SELECT, the INSERT and the UPDATE; no other reads. The
three run on the DBAPI cursor through `exchange.sql`, which halves their cost on SQLite.

Limits are checked here, on the locked rows, so concurrent transfers cannot jointly
break them: on PostgreSQL the rows stay locked until the transaction ends; on SQLite
the single writer thread serialises writes.

The value types of the ledger (`Transfer`, `Phase`, `TransferKind`) live here so that
`exchange.transfers`, `exchange.issuance` and `exchange.demurrage` can share them;
import them from `exchange.transfers`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from exchange import sql, tables
from exchange.chain import chain_step, transfer_digest
from exchange.errors import (
    AccountClosed,
    CreditLimitExceeded,
    LedgerNotReady,
    UnknownAccount,
    UpperLimitExceeded,
    WrongCurrency,
)
from exchange.settings import LedgerSettings, settings_from_row

DEMURRAGE = "demurrage"


class Phase(StrEnum):
    """How a transfer moves money: posted at once, held, or resolving a hold."""

    SINGLE = "single"  # posted at once
    PENDING = "pending"  # held until posted, voided or expired
    POST = "post"  # posts (all or part of) a pending transfer
    VOID = "void"  # releases a pending transfer
    EXPIRE = "expire"  # releases a pending transfer whose expiry passed


class TransferKind(StrEnum):
    """What a transfer is for (statements and exports show it)."""

    PAYMENT = "payment"
    ISSUANCE = "issuance"
    DEMURRAGE = "demurrage"
    FEE = "fee"
    CLEARING = "clearing"
    ROUNDING = "rounding"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class Transfer:
    """An immutable double-entry transfer as stored (see `exchange.tables`)."""

    ordinal: int
    id: str
    phase: Phase
    kind: TransferKind
    debit_account_id: str
    credit_account_id: str
    amount_minor: int
    pending_id: str | None
    expires_at_us: int | None
    created_at_us: int
    memo: str
    reference: str | None
    debit_seq: int
    credit_seq: int
    debit_balance_minor: int
    credit_balance_minor: int


def transfer_from_row(row: Any) -> Transfer:
    return Transfer(
        ordinal=row.ordinal,
        id=row.id,
        phase=Phase(row.phase),
        kind=TransferKind(row.kind),
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount_minor=row.amount_minor,
        pending_id=row.pending_id,
        expires_at_us=row.expires_at_us,
        created_at_us=row.created_at_us,
        memo=row.memo,
        reference=row.reference,
        debit_seq=row.debit_seq,
        credit_seq=row.credit_seq,
        debit_balance_minor=row.debit_balance_minor,
        credit_balance_minor=row.credit_balance_minor,
    )


@dataclass(slots=True)
class AccountState:
    """A working copy of a locked account row."""

    id: str
    kind: str
    credit_limit_minor: int | None
    upper_limit_minor: int | None
    debits_posted_minor: int
    credits_posted_minor: int
    debits_pending_minor: int
    credits_pending_minor: int
    seq: int
    chain_hash: bytes
    allowance_remaining_minor: int
    demurrage_settled_to_us: int
    closed: bool
    changed: bool = False

    @property
    def balance_minor(self) -> int:
        return self.credits_posted_minor - self.debits_posted_minor

    @property
    def available_minor(self) -> int:
        """What may still be spent before the credit limit: balance minus outgoing holds."""
        return self.balance_minor - self.debits_pending_minor


_A = tables.accounts
_ACCOUNT_COLUMNS = (
    _A.c.id,
    _A.c.kind,
    _A.c.credit_limit_minor,
    _A.c.upper_limit_minor,
    _A.c.debits_posted_minor,
    _A.c.credits_posted_minor,
    _A.c.debits_pending_minor,
    _A.c.credits_pending_minor,
    _A.c.seq,
    _A.c.chain_hash,
    _A.c.allowance_remaining_minor,
    _A.c.demurrage_settled_to_us,
    _A.c.closed_at_us,
)


class LedgerRow(NamedTuple):
    """The currency code and the settings, read with the account locks."""

    currency_code: str
    default_credit_limit_minor: int
    default_soft_limit_minor: int
    default_upper_limit_minor: int | None
    issuance_allowance_minor: int
    issuance_copay_bps: int
    issuance_reputation_threshold: str
    demurrage_rate_bps: int
    demurrage_period: str
    demurrage_free_threshold_minor: int
    demurrage_since_us: int


_LEDGER_COLUMNS = (
    tables.currency.c.code.label("currency_code"),
    *(tables.settings.c[name] for name in LedgerRow._fields[1:]),
)
_LEDGER_AT = len(_ACCOUNT_COLUMNS)
# The single rows are joined by primary key, so that the planner knows it gets one row
# of each (PostgreSQL assumes thousands in a never-analysed table, and a cross join of
# such guesses costs enough to trigger JIT compilation: 10 ms per transfer).
_LEDGER = tables.currency.join(tables.settings, tables.settings.c.id == 1)


def ledger_not_ready() -> LedgerNotReady:
    return LedgerNotReady("the ledger has not been created yet")


def wrong_currency(ledger_currency_code: str) -> WrongCurrency:
    return WrongCurrency(f"this ledger keeps {ledger_currency_code}, not that")


def lock_order(account_id: str) -> tuple[bool, str]:
    """The order in which rows are locked: by id, the demurrage sink last.

    Demurrage may be found due only after the first rows are locked, and then the sink
    must be locked too; keeping it last everywhere keeps the order global (no deadlock).
    """
    return (account_id == DEMURRAGE, account_id)


def _lock_statement(count: int) -> Any:
    names: list[Any] = [bindparam(f"id{i}") for i in range(count)]
    return (
        select(*_ACCOUNT_COLUMNS, *_LEDGER_COLUMNS)
        .select_from(_A.join(_LEDGER, tables.currency.c.id == 1))
        .where(_A.c.id.in_(names) if count > 1 else _A.c.id == names[0])
        .order_by(_A.c.id == DEMURRAGE, _A.c.id)
        .with_for_update(of=_A)
    )


_LOCK_ONE = _lock_statement(1)
_LOCK_TWO = _lock_statement(2)
_LOCK_THREE = _lock_statement(3)
_LOCK_MANY = (
    select(*_ACCOUNT_COLUMNS, *_LEDGER_COLUMNS)
    .select_from(_A.join(_LEDGER, tables.currency.c.id == 1))
    .where(_A.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_A.c.id == DEMURRAGE, _A.c.id)
    .with_for_update(of=_A)
)
_UPDATE_ACCOUNT = (
    update(_A)
    .where(_A.c.id == bindparam("b_id"))
    .values(
        debits_posted_minor=bindparam("b_dpo"),
        credits_posted_minor=bindparam("b_cpo"),
        debits_pending_minor=bindparam("b_dpe"),
        credits_pending_minor=bindparam("b_cpe"),
        seq=bindparam("b_seq"),
        chain_hash=bindparam("b_hash"),
        allowance_remaining_minor=bindparam("b_allow"),
        demurrage_settled_to_us=bindparam("b_settled"),
    )
)
_T = tables.transfers
_NEW_ROW: dict[str, Any] = {c.name: bindparam(c.name) for c in _T.c if c.name != "ordinal"}
_INSERT = _T.insert().values(_NEW_ROW).returning(_T.c.ordinal)
_INSERT_NEW_PG = (
    postgresql.insert(_T).values(_NEW_ROW).on_conflict_do_nothing().returning(_T.c.ordinal)
)
_INSERT_NEW_SQLITE = (
    sqlite.insert(_T).values(_NEW_ROW).on_conflict_do_nothing().returning(_T.c.ordinal)
)


def _state(row: Sequence[Any]) -> AccountState:
    """A working copy from a locked row (columns as in ``_ACCOUNT_COLUMNS``)."""
    closed = row[_LEDGER_AT - 1] is not None
    return AccountState(*row[: _LEDGER_AT - 1], closed=closed)  # type: ignore[misc]


def _effects(phase: Phase, amount_minor: int, pending_minor: int) -> tuple[int, int]:
    """(change of posted, change of pending) on both sides of a transfer."""
    if phase is Phase.SINGLE:
        return amount_minor, 0
    if phase is Phase.PENDING:
        return 0, amount_minor
    if phase is Phase.POST:
        return amount_minor, -pending_minor
    return 0, -amount_minor  # void, expire: the row's amount is the released hold


class Booking:
    """One unit of work over locked accounts (see the module docstring)."""

    __slots__ = ("_ledger", "_settings", "accounts", "conn", "now_us")

    def __init__(self, conn: Connection, now_us: int) -> None:
        self.conn = conn
        self.now_us = now_us
        self.accounts: dict[str, AccountState] = {}
        self._ledger: LedgerRow | None = None
        self._settings: LedgerSettings | None = None

    @classmethod
    def lock(cls, conn: Connection, account_ids: Iterable[str], now_us: int) -> Booking:
        """Lock the given accounts (those that exist) and read the ledger's settings."""
        booking = cls(conn, now_us)
        booking.lock_more(account_ids)
        return booking

    def lock_more(self, account_ids: Iterable[str]) -> None:
        """Lock more accounts; callers keep to `lock_order` across calls."""
        ids = sorted({i for i in account_ids if i not in self.accounts}, key=lock_order)
        if not ids:
            return
        if len(ids) <= 3:
            statement = (_LOCK_ONE, _LOCK_TWO, _LOCK_THREE)[len(ids) - 1]
            params = {f"id{i}": account_id for i, account_id in enumerate(ids)}
            rows: Sequence[Sequence[Any]] = sql.fetch_all(self.conn, statement, params)
        else:
            rows = self.conn.execute(_LOCK_MANY, {"ids": ids}).all()
        for row in rows:
            self._ledger = LedgerRow(*row[_LEDGER_AT:])
            self.accounts[row[0]] = _state(row)

    @property
    def ledger(self) -> LedgerRow:
        """The currency code and settings (read with the locks)."""
        if self._ledger is None:
            query = select(*_LEDGER_COLUMNS).select_from(_LEDGER).where(tables.currency.c.id == 1)
            row = self.conn.execute(query).first()
            if row is None:
                raise ledger_not_ready()
            self._ledger = LedgerRow(*row)
        return self._ledger

    @property
    def settings(self) -> LedgerSettings:
        if self._settings is None:
            self._settings = settings_from_row(self.ledger)
        return self._settings

    def check_currency(self, currency_code: str) -> None:
        if currency_code != self.ledger.currency_code:
            raise wrong_currency(self.ledger.currency_code)

    def account(self, account_id: str) -> AccountState:
        """A locked account; raises `UnknownAccount`."""
        state = self.accounts.get(account_id)
        if state is None:
            raise UnknownAccount(account_id)
        return state

    def open_account(self, account_id: str) -> AccountState:
        """A locked account that is open; raises `UnknownAccount`, `AccountClosed`."""
        state = self.account(account_id)
        if state.closed:
            raise AccountClosed(account_id)
        return state

    @staticmethod
    def check_limits(debit: AccountState, credit: AccountState, amount_minor: int) -> None:
        """Refuse a transfer that takes the debit account below its credit limit (counting
        its outgoing holds) or the credit account above its upper limit (counting incoming
        holds). Only the side a transfer moves towards is checked, so an account already
        beyond a limit after a limit change can still move back."""
        lower = debit.credit_limit_minor
        if lower is not None and debit.available_minor - amount_minor < -lower:
            raise CreditLimitExceeded(debit.id)
        upper = credit.upper_limit_minor
        if upper is not None and (
            credit.balance_minor + credit.credits_pending_minor + amount_minor > upper
        ):
            raise UpperLimitExceeded(credit.id)

    def record(
        self,
        *,
        transfer_id: str,
        phase: Phase,
        kind: TransferKind,
        debit: AccountState,
        credit: AccountState,
        amount_minor: int,
        memo: str = "",
        reference: str | None = None,
        pending_id: str | None = None,
        pending_minor: int = 0,
        expires_at_us: int | None = None,
        idempotent: bool = True,
    ) -> Transfer | None:
        """Insert a transfer and apply it to the working copies.

        With ``idempotent``, an existing row with the same id (or the same pending id)
        makes this return ``None`` and change nothing; otherwise it raises.
        """
        posted, pending = _effects(phase, amount_minor, pending_minor)
        debit_balance = debit.balance_minor - posted
        credit_balance = credit.balance_minor + posted
        digest = transfer_digest(
            transfer_id, phase.value, kind.value, debit.id, credit.id, amount_minor,
            pending_id, expires_at_us, self.now_us, memo, reference,
        )  # fmt: skip
        debit_hash = chain_step(debit.chain_hash, debit.seq + 1, debit_balance, digest)
        credit_hash = chain_step(credit.chain_hash, credit.seq + 1, credit_balance, digest)
        row: dict[str, Any] = {
            "id": transfer_id,
            "phase": phase.value,
            "kind": kind.value,
            "debit_account_id": debit.id,
            "credit_account_id": credit.id,
            "amount_minor": amount_minor,
            "pending_id": pending_id,
            "expires_at_us": expires_at_us,
            "created_at_us": self.now_us,
            "memo": memo,
            "reference": reference,
            "debit_seq": debit.seq + 1,
            "credit_seq": credit.seq + 1,
            "debit_balance_minor": debit_balance,
            "credit_balance_minor": credit_balance,
            "debit_hash": debit_hash,
            "credit_hash": credit_hash,
        }
        ordinal = self._insert(row, idempotent)
        if ordinal is None:
            return None
        debit.debits_posted_minor += posted
        debit.debits_pending_minor += pending
        credit.credits_posted_minor += posted
        credit.credits_pending_minor += pending
        debit.seq, debit.chain_hash, debit.changed = debit.seq + 1, debit_hash, True
        credit.seq, credit.chain_hash, credit.changed = credit.seq + 1, credit_hash, True
        del row["debit_hash"], row["credit_hash"]
        row["phase"], row["kind"] = phase, kind
        return Transfer(ordinal=ordinal, **row)

    def _insert(self, row: dict[str, Any], idempotent: bool) -> int | None:
        statement: Any = _INSERT
        if not idempotent:
            pass
        elif self.conn.dialect.name == "postgresql":
            statement = _INSERT_NEW_PG
        else:
            statement = _INSERT_NEW_SQLITE
        inserted = sql.fetch_all(self.conn, statement, row)
        return int(inserted[0][0]) if inserted else None

    def flush(self) -> None:
        """Write back every account this booking changed (one statement)."""
        params = [
            {
                "b_id": s.id,
                "b_dpo": s.debits_posted_minor,
                "b_cpo": s.credits_posted_minor,
                "b_dpe": s.debits_pending_minor,
                "b_cpe": s.credits_pending_minor,
                "b_seq": s.seq,
                "b_hash": s.chain_hash,
                "b_allow": s.allowance_remaining_minor,
                "b_settled": s.demurrage_settled_to_us,
            }
            for s in self.accounts.values()
            if s.changed
        ]
        if params:
            sql.execute_many(self.conn, _UPDATE_ACCOUNT, params)
        for state in self.accounts.values():
            state.changed = False
