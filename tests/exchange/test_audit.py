"""The audit finds tampering and broken rules, and lists every problem it finds."""

from __future__ import annotations

from sqlalchemy import delete, update

from exchange import tables
from exchange.audit import Severity, audit
from exchange.issuance import Sale, pay_sale
from exchange.transfers import TransferRequest, create_pending, create_transfer
from tests.exchange.conftest import T0

T = tables.transfers
A = tables.accounts


async def busy(ledger):
    for i in range(5):
        request = TransferRequest(f"t{i}", "alice", "bob", 100 + i, "KRZ", memo=f"m{i}")
        await ledger.write(create_transfer, request, T0 + i)
    await ledger.write(
        create_pending, TransferRequest("h", "bob", "carol", 50, "KRZ"), T0 + 10**9, T0
    )
    await ledger.write(pay_sale, Sale("s", "carol", "alice", 1_000, "KRZ"), 5, T0 + 9)
    assert await ledger.read(audit) == []


async def tamper(ledger, statement) -> list[tuple[str, str | None, str | None]]:
    await ledger.write(lambda conn: conn.execute(statement))
    problems = await ledger.read(audit)
    assert all(p.severity is Severity.ERROR for p in problems)
    return sorted({(p.code, p.account_id, p.transfer_id) for p in problems}, key=str)


async def test_an_edited_memo_breaks_both_chains_at_that_transfer(ledger):
    """Changing any field of a stored transfer is pinpointed on both of its accounts."""
    await busy(ledger)
    found = await tamper(ledger, update(T).where(T.c.id == "t2").values(memo="forged"))
    assert found == [("chain_broken", "alice", "t2"), ("chain_broken", "bob", "t2")]


async def test_an_edited_amount_breaks_totals_zero_sum_and_chains(ledger):
    """A changed amount shows as chain, running-balance and totals problems at once."""
    await busy(ledger)
    found = await tamper(ledger, update(T).where(T.c.id == "t1").values(amount_minor=1))
    codes = {code for code, _, _ in found}
    assert {"chain_broken", "chain_sequence", "totals_mismatch"} <= codes


async def test_a_deleted_transfer_leaves_a_gap(ledger):
    """Removing a transfer shows at the next transfer of both accounts and in their totals."""
    await busy(ledger)
    found = await tamper(ledger, delete(T).where(T.c.id == "t4"))
    assert {("chain_sequence", "alice", "s"), ("chain_sequence", "bob", "h")} <= set(found)
    assert {("totals_mismatch", "alice", None), ("totals_mismatch", "bob", None)} <= set(found)


async def test_an_edited_balance_breaks_zero_sum(ledger):
    """Money created by editing an account row is found."""
    await busy(ledger)
    found = await tamper(
        ledger, update(A).where(A.c.id == "carol").values(credits_posted_minor=10**6)
    )
    codes = {code for code, _, _ in found}
    assert {"not_zero_sum", "totals_mismatch", "chain_balance"} <= codes


async def test_a_lost_hold_index_row_is_found(ledger):
    """An unresolved pending transfer missing from the open-holds index is reported."""
    await busy(ledger)
    found = await tamper(ledger, delete(tables.holds))
    assert found == [("missing_hold", None, "h")]


async def test_a_balance_beyond_its_limit_without_a_limit_change_is_an_error(ledger):
    """A limit that was never lowered does not excuse a balance beyond it."""
    await busy(ledger)
    found = await tamper(ledger, update(A).where(A.c.id == "carol").values(credit_limit_minor=0))
    assert found == [("limit_broken", "carol", None)]


async def test_the_allowance_must_match_the_copays(ledger):
    """An allowance that was restored by hand no longer matches the co-pays booked."""
    await busy(ledger)
    found = await tamper(
        ledger, update(A).where(A.c.id == "alice").values(allowance_remaining_minor=10_000)
    )
    assert found == [("allowance_mismatch", "alice", None)]


async def test_many_problems_are_listed_up_to_a_cap(ledger):
    """The audit never stops at the first problem, and caps each kind with a count."""
    await busy(ledger)
    await ledger.write(lambda conn: conn.execute(update(T).values(memo="forged")))
    problems = await ledger.read(audit, max_per_check=3)
    broken = [p for p in problems if p.code == "chain_broken"]
    assert len(broken) == 4 and "more problems" in broken[-1].message
