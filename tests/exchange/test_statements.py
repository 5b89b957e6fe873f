"""Member statements (newest first, cursor pages) and CSV exports."""

from __future__ import annotations

import csv
import io

import pytest

from exchange.errors import InvalidRequest, UnknownAccount
from exchange.export import write_ledger_csv, write_statement_csv
from exchange.pending import post_pending
from exchange.statements import get_statement
from exchange.transfers import Phase, TransferRequest, create_pending, create_transfer
from tests.exchange.conftest import T0


async def test_a_statement_lists_entries_newest_first_with_running_balances(ledger):
    """Signed amounts from the member's side, counterparty, and the balance after each."""
    await ledger.write(
        create_transfer, TransferRequest("t1", "bob", "alice", 500, "KRZ", memo="eggs"), T0
    )
    await ledger.write(create_transfer, TransferRequest("t2", "alice", "carol", 200, "KRZ"), T0 + 1)
    hold = TransferRequest("h1", "alice", "bob", 100, "KRZ", reference="trade-1")
    await ledger.write(create_pending, hold, T0 + 10**9, T0 + 2)
    await ledger.write(post_pending, "p1", "h1", T0 + 3, amount_minor=80)
    page = await ledger.read(get_statement, "alice")
    rows = [
        (e.seq, e.transfer_id, e.phase, e.counterparty_account_id, e.amount_minor, e.balance_minor)
        for e in page.entries
    ]
    assert rows == [
        (4, "p1", Phase.POST, "bob", -80, 220),
        (3, "h1", Phase.PENDING, "bob", -100, 300),
        (2, "t2", Phase.SINGLE, "carol", -200, 300),
        (1, "t1", Phase.SINGLE, "bob", 500, 500),
    ]
    assert page.entries[0].reference == "trade-1" and page.entries[-1].memo == "eggs"
    assert [e.posts for e in page.entries] == [True, False, True, True]
    assert page.next_cursor is None


async def test_cursor_pages_neither_skip_nor_repeat_while_transfers_arrive(ledger):
    """Paging by seq is stable: new transfers do not shift older pages."""
    for i in range(7):
        await ledger.write(
            create_transfer, TransferRequest(f"t{i}", "alice", "bob", 1 + i, "KRZ"), T0 + i
        )
    first = await ledger.read(get_statement, "alice", limit=3)
    await ledger.write(create_transfer, TransferRequest("late", "bob", "alice", 9, "KRZ"), T0 + 99)
    second = await ledger.read(get_statement, "alice", limit=3, cursor=first.next_cursor)
    third = await ledger.read(get_statement, "alice", limit=3, cursor=second.next_cursor)
    seen = [e.transfer_id for page in (first, second, third) for e in page.entries]
    assert seen == [f"t{i}" for i in range(6, -1, -1)]
    assert third.next_cursor is None


async def test_statement_errors(ledger):
    """Unknown accounts and malformed cursors are typed errors."""
    with pytest.raises(UnknownAccount):
        await ledger.read(get_statement, "nobody")
    with pytest.raises(InvalidRequest):
        await ledger.read(get_statement, "alice", cursor="abc")


async def test_csv_exports_render_amounts_and_defuse_formulas(ledger):
    """Statement and ledger CSVs use decimal strings and never start a cell with '='."""
    await ledger.write(
        create_transfer,
        TransferRequest("t1", "bob", "alice", 1_250, "KRZ", memo="=HYPERLINK(1)"),
        T0,
    )
    await ledger.write(create_transfer, TransferRequest("t2", "alice", "carol", 5, "KRZ"), T0 + 1)

    def statement(conn):
        out = io.StringIO()
        return write_statement_csv(conn, "alice", out), out.getvalue()

    def whole(conn):
        out = io.StringIO()
        return write_ledger_csv(conn, out), out.getvalue()

    count, text = await ledger.read(statement)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == 2
    assert [(r["transfer_id"], r["amount"], r["balance"], r["currency"]) for r in rows] == [
        ("t1", "12.50", "12.50", "KRZ"),
        ("t2", "-0.05", "12.45", "KRZ"),
    ]
    assert rows[0]["memo"] == "'=HYPERLINK(1)"
    assert rows[0]["created_at"] == "2023-11-14T22:13:20Z"
    count, text = await ledger.read(whole)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert count == 2
    assert [(r["debit_account"], r["credit_account"], r["amount"]) for r in rows] == [
        ("bob", "alice", "12.50"),
        ("alice", "carol", "0.05"),
    ]
