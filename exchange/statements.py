"""Member statements: an account's transfers, newest first, with the running balance.

Each transfer that touches an account has a place in that account's chain, ``seq``
(1, 2, 3, ...), stored on the transfer. That is the stable key of a statement: entries
are ordered by it and a page's cursor is the ``seq`` of its last entry, so pages never
skip or repeat entries, however many transfers arrive meanwhile. The posted balance
after each entry is stored on the transfer too, so the running balance costs nothing.

An entry's ``amount_minor`` is signed from the member's side (negative when the member
pays). For ``pending``, ``void`` and ``expire`` entries it is the amount held or
released, and the balance does not move (`StatementEntry.posts` is false).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, desc, literal_column, select, union_all

from exchange import tables
from exchange.accounts import get_account
from exchange.booking import Phase, TransferKind
from exchange.errors import InvalidRequest

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class StatementEntry:
    seq: int
    transfer_id: str
    phase: Phase
    kind: TransferKind
    counterparty_account_id: str
    amount_minor: int
    balance_minor: int
    created_at_us: int
    memo: str
    reference: str | None
    pending_id: str | None
    expires_at_us: int | None

    @property
    def posts(self) -> bool:
        """Whether this entry moved the posted balance (single or post)."""
        return self.phase in (Phase.SINGLE, Phase.POST)


@dataclass(frozen=True, slots=True)
class StatementPage:
    entries: tuple[StatementEntry, ...]
    next_cursor: str | None  # pass back as ``cursor`` for the next (older) page


def _side(account_id: str, debit: bool) -> Select[Any]:
    t = tables.transfers
    seq, counterparty, balance = (
        (t.c.debit_seq, t.c.credit_account_id, t.c.debit_balance_minor)
        if debit
        else (t.c.credit_seq, t.c.debit_account_id, t.c.credit_balance_minor)
    )
    owner = t.c.debit_account_id if debit else t.c.credit_account_id
    return select(
        seq.label("seq"),
        t.c.id.label("transfer_id"),
        t.c.phase,
        t.c.kind,
        counterparty.label("counterparty"),
        (literal_column("-1" if debit else "1") * t.c.amount_minor).label("amount"),
        balance.label("balance"),
        t.c.created_at_us,
        t.c.memo,
        t.c.reference,
        t.c.pending_id,
        t.c.expires_at_us,
    ).where(owner == account_id)


def _entry(row: Any) -> StatementEntry:
    return StatementEntry(
        seq=row.seq,
        transfer_id=row.transfer_id,
        phase=Phase(row.phase),
        kind=TransferKind(row.kind),
        counterparty_account_id=row.counterparty,
        amount_minor=row.amount,
        balance_minor=row.balance,
        created_at_us=row.created_at_us,
        memo=row.memo,
        reference=row.reference,
        pending_id=row.pending_id,
        expires_at_us=row.expires_at_us,
    )


def parse_cursor(cursor: str) -> int:
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidRequest("not a statement cursor")
    return int(cursor)


def get_statement(
    conn: Connection, account_id: str, *, limit: int = 50, cursor: str | None = None
) -> StatementPage:
    """One page of an account's statement, newest first; raises `UnknownAccount`."""
    get_account(conn, account_id)
    limit = max(1, min(limit, MAX_PAGE))
    before = parse_cursor(cursor) if cursor is not None else None
    sides = []
    for debit in (True, False):
        side = _side(account_id, debit)
        column = tables.transfers.c.debit_seq if debit else tables.transfers.c.credit_seq
        if before is not None:
            side = side.where(column < before)
        sides.append(side.order_by(desc(column)).limit(limit + 1).subquery())
    both = union_all(*(select(s) for s in sides)).subquery()
    rows = conn.execute(select(both).order_by(desc(both.c.seq)).limit(limit + 1)).all()
    entries = tuple(_entry(row) for row in rows[:limit])
    more = len(rows) > limit
    return StatementPage(entries, str(entries[-1].seq) if more else None)


def iter_statement(conn: Connection, account_id: str) -> Iterator[StatementEntry]:
    """Every entry of an account, oldest first, streamed (for exports)."""
    get_account(conn, account_id)
    both = union_all(_side(account_id, True), _side(account_id, False)).subquery()
    result = conn.execution_options(yield_per=1000).execute(select(both).order_by(both.c.seq))
    for row in result:
        yield _entry(row)
