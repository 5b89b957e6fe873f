"""CSV exports: a member's statement and the whole ledger.

Amounts are decimal strings in the currency's units (``"-12.50"``), instants ISO 8601 in
UTC. Rows are streamed from the database and written as they come, so exporting a large
ledger takes little memory. Free-text fields that a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are prefixed with
``'`` (OWASP's advice on CSV injection); amounts are never altered.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Connection, select

from exchange import tables
from exchange.money import Currency, render_amount
from exchange.settings import get_currency
from exchange.statements import iter_statement

STATEMENT_COLUMNS = (
    "seq", "created_at", "transfer_id", "phase", "kind", "counterparty",
    "amount", "balance", "currency", "memo", "reference", "pending_id",
)  # fmt: skip
LEDGER_COLUMNS = (
    "ordinal", "created_at", "transfer_id", "phase", "kind", "debit_account",
    "credit_account", "amount", "currency", "memo", "reference", "pending_id", "expires_at",
)  # fmt: skip

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    """A free-text cell that spreadsheets will not evaluate."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def render_instant(at_us: int | None) -> str:
    if at_us is None:
        return ""
    moment = datetime.fromtimestamp(at_us // 1_000_000, tz=UTC).replace(
        microsecond=at_us % 1_000_000
    )
    return moment.isoformat().replace("+00:00", "Z")


def write_statement_csv(conn: Connection, account_id: str, out: TextIO) -> int:
    """Write an account's statement, oldest first; returns the number of entries.

    Raises `UnknownAccount`, `LedgerNotReady`.
    """
    currency = get_currency(conn)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    count = 0
    for entry in iter_statement(conn, account_id):
        writer.writerow(
            (
                entry.seq,
                render_instant(entry.created_at_us),
                safe_text(entry.transfer_id),
                entry.phase.value,
                entry.kind.value,
                safe_text(entry.counterparty_account_id),
                render_amount(entry.amount_minor, currency),
                render_amount(entry.balance_minor, currency),
                currency.code,
                safe_text(entry.memo),
                safe_text(entry.reference),
                safe_text(entry.pending_id),
            )
        )
        count += 1
    return count


def write_ledger_csv(conn: Connection, out: TextIO) -> int:
    """Write every transfer of the ledger in the order booked; returns how many."""
    currency = get_currency(conn)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEDGER_COLUMNS)
    t = tables.transfers
    result = conn.execution_options(yield_per=2000).execute(select(t).order_by(t.c.ordinal))
    count = 0
    for row in result:
        writer.writerow(_ledger_row(row, currency))
        count += 1
    return count


def _ledger_row(row: Any, currency: Currency) -> tuple[object, ...]:
    return (
        row.ordinal,
        render_instant(row.created_at_us),
        safe_text(row.id),
        row.phase,
        row.kind,
        safe_text(row.debit_account_id),
        safe_text(row.credit_account_id),
        render_amount(row.amount_minor, currency),
        currency.code,
        safe_text(row.memo),
        safe_text(row.reference),
        safe_text(row.pending_id),
        render_instant(row.expires_at_us),
    )
