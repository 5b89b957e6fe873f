"""Single- and two-phase transfers, limits with holds, idempotency, on a real database."""

from __future__ import annotations

import pytest

from exchange.accounts import Limits, close_account, get_account, set_limits
from exchange.audit import audit
from exchange.errors import (
    AccountClosed,
    CreditLimitExceeded,
    IdempotencyConflict,
    InvalidAmount,
    TransferExpired,
    TransferNotPending,
    UpperLimitExceeded,
)
from exchange.pending import (
    PendingStatus,
    expire_pending,
    get_pending_state,
    post_pending,
    void_pending,
)
from exchange.transfers import (
    Phase,
    TransferKind,
    TransferRequest,
    create_pending,
    create_transfer,
    get_transfer,
    list_transfers_by_reference,
)
from fediverse_share.database import Database
from tests.exchange.conftest import T0
from tests.exchange.snapshots import ledger_snapshot

HOUR_US = 3_600 * 1_000_000


def pay(transfer_id: str, debit: str, credit: str, amount: int, **kw) -> TransferRequest:
    return TransferRequest(transfer_id, debit, credit, amount, "KRZ", **kw)


async def balance(db: Database, account_id: str) -> int:
    return (await db.read(get_account, account_id)).balance_minor


async def test_a_transfer_moves_money_and_records_both_sides(ledger):
    """A payment debits one account, credits the other, and stores running balances."""
    t = await ledger.write(create_transfer, pay("t1", "alice", "bob", 1_250, memo="bread"), T0 + 1)
    assert (t.phase, t.debit_seq, t.credit_seq) == (Phase.SINGLE, 1, 1)
    assert (t.debit_balance_minor, t.credit_balance_minor) == (-1_250, 1_250)
    assert await balance(ledger, "alice") == -1_250
    assert await balance(ledger, "bob") == 1_250
    assert await ledger.read(get_transfer, "t1") == t
    assert await ledger.read(audit) == []


async def test_replaying_a_transfer_returns_it_and_changes_nothing(ledger):
    """The same id with the same parameters gives the original transfer, booked once."""
    first = await ledger.write(create_transfer, pay("t1", "alice", "bob", 500), T0 + 1)
    before = await ledger.read(ledger_snapshot)
    again = await ledger.write(create_transfer, pay("t1", "alice", "bob", 500), T0 + 99)
    assert again == first
    assert await ledger.read(ledger_snapshot) == before


async def test_a_replay_succeeds_even_when_the_limit_would_now_refuse_it(ledger):
    """Replaying an accepted transfer returns it although the same payment would now fail."""
    first = await ledger.write(create_transfer, pay("t1", "alice", "bob", 9_000), T0 + 1)
    await ledger.write(create_transfer, pay("t2", "alice", "carol", 1_000), T0 + 2)
    assert await ledger.write(create_transfer, pay("t1", "alice", "bob", 9_000), T0 + 3) == first


async def test_reusing_an_id_with_other_parameters_is_a_conflict(ledger):
    """Same id, different amount, accounts or memo: IdempotencyConflict, nothing booked."""
    await ledger.write(create_transfer, pay("t1", "alice", "bob", 500), T0 + 1)
    before = await ledger.read(ledger_snapshot)
    for changed in (
        pay("t1", "alice", "bob", 501),
        pay("t1", "alice", "carol", 500),
        pay("t1", "alice", "bob", 500, memo="other"),
    ):
        with pytest.raises(IdempotencyConflict):
            await ledger.write(create_transfer, changed, T0 + 2)
    with pytest.raises(IdempotencyConflict):
        await ledger.write(create_pending, pay("t1", "alice", "bob", 500), T0 + HOUR_US, T0 + 2)
    assert await ledger.read(ledger_snapshot) == before


async def test_the_credit_limit_counts_outgoing_holds(ledger):
    """Available = balance - holds; a payment past the credit limit is refused."""
    await ledger.write(create_pending, pay("h1", "alice", "bob", 6_000), T0 + HOUR_US, T0)
    with pytest.raises(CreditLimitExceeded):
        await ledger.write(create_transfer, pay("t1", "alice", "carol", 4_001), T0 + 1)
    await ledger.write(create_transfer, pay("t2", "alice", "carol", 4_000), T0 + 2)
    account = await ledger.read(get_account, "alice")
    assert (account.balance_minor, account.available_minor) == (-4_000, -10_000)
    assert account.soft_limit_reached


async def test_the_upper_limit_counts_incoming_holds(ledger):
    """Balance + incoming holds may not pass the upper limit."""
    await ledger.write(set_limits, "bob", Limits(10_000, upper_limit_minor=5_000), T0)
    await ledger.write(create_pending, pay("h1", "alice", "bob", 3_000), T0 + HOUR_US, T0)
    with pytest.raises(UpperLimitExceeded):
        await ledger.write(create_transfer, pay("t1", "carol", "bob", 2_001), T0 + 1)
    await ledger.write(create_transfer, pay("t2", "carol", "bob", 2_000), T0 + 2)


async def test_an_account_beyond_a_lowered_limit_can_still_move_back(ledger):
    """After a limit is lowered below the balance, payments towards safety still work."""
    await ledger.write(create_transfer, pay("t1", "alice", "bob", 8_000), T0 + 1)
    await ledger.write(set_limits, "alice", Limits(5_000), T0 + 2)
    await ledger.write(set_limits, "bob", Limits(10_000, upper_limit_minor=1_000), T0 + 2)
    with pytest.raises(CreditLimitExceeded):
        await ledger.write(create_transfer, pay("t2", "alice", "carol", 1), T0 + 3)
    await ledger.write(create_transfer, pay("t3", "bob", "alice", 100), T0 + 4)
    problems = await ledger.read(audit)
    assert {(p.code, p.severity.value) for p in problems} == {("beyond_changed_limit", "warning")}


async def test_posting_part_of_a_hold_releases_the_rest(ledger):
    """A partial post moves the posted amount and frees the whole hold."""
    await ledger.write(create_pending, pay("h1", "alice", "bob", 3_000), T0 + HOUR_US, T0)
    post = await ledger.write(post_pending, "p1", "h1", T0 + 1, amount_minor=1_000)
    assert (post.phase, post.pending_id, post.amount_minor) == (Phase.POST, "h1", 1_000)
    alice = await ledger.read(get_account, "alice")
    assert (alice.balance_minor, alice.debits_pending_minor) == (-1_000, 0)
    state = await ledger.read(get_pending_state, "h1", T0 + 2)
    assert (state.status, state.resolution) == (PendingStatus.POSTED, post)
    assert await ledger.read(audit) == []


async def test_a_hold_is_resolved_once(ledger):
    """After a post, voiding or posting again is refused; replaying the post is not."""
    await ledger.write(create_pending, pay("h1", "alice", "bob", 3_000), T0 + HOUR_US, T0)
    post = await ledger.write(post_pending, "p1", "h1", T0 + 1)
    with pytest.raises(TransferNotPending):
        await ledger.write(void_pending, "v1", "h1", T0 + 2)
    with pytest.raises(TransferNotPending):
        await ledger.write(post_pending, "p2", "h1", T0 + 2)
    assert await ledger.write(post_pending, "p1", "h1", T0 + 3) == post
    with pytest.raises(IdempotencyConflict):
        await ledger.write(post_pending, "p1", "h1", T0 + 3, amount_minor=5)


async def test_voiding_releases_the_hold(ledger):
    """A void frees the held amount and moves nothing."""
    await ledger.write(create_pending, pay("h1", "alice", "bob", 3_000), T0 + HOUR_US, T0)
    await ledger.write(void_pending, "v1", "h1", T0 + 1)
    alice = await ledger.read(get_account, "alice")
    assert (alice.balance_minor, alice.available_minor) == (0, 0)
    state = await ledger.read(get_pending_state, "h1", T0 + 2)
    assert state.status is PendingStatus.VOIDED


async def test_holds_expire_and_cannot_be_posted_after(ledger):
    """Past its expiry a hold cannot be posted; the worker's expiry releases it."""
    await ledger.write(create_pending, pay("h1", "alice", "bob", 3_000), T0 + HOUR_US, T0)
    await ledger.write(create_pending, pay("h2", "alice", "bob", 1_000), T0 + 3 * HOUR_US, T0)
    later = T0 + 2 * HOUR_US
    with pytest.raises(TransferExpired):
        await ledger.write(post_pending, "p1", "h1", later)
    assert (await ledger.read(get_pending_state, "h1", later)).status is PendingStatus.EXPIRED
    assert [p.code for p in await ledger.read(audit, later)] == ["hold_overdue"]
    expired = await ledger.write(expire_pending, later)
    assert [(t.id, t.phase) for t in expired] == [("expire:h1", Phase.EXPIRE)]
    assert await ledger.write(expire_pending, later) == []
    alice = await ledger.read(get_account, "alice")
    assert alice.debits_pending_minor == 1_000
    assert await ledger.read(audit, later) == []


async def test_over_posting_and_bad_amounts_are_refused(ledger):
    """A post above the held amount, or of nothing, is an InvalidAmount."""
    await ledger.write(create_pending, pay("h1", "alice", "bob", 3_000), T0 + HOUR_US, T0)
    for amount in (3_001, 0, -5):
        with pytest.raises(InvalidAmount):
            await ledger.write(post_pending, "p1", "h1", T0 + 1, amount_minor=amount)


async def test_closed_accounts_refuse_transfers(ledger):
    """A closed account can neither pay nor be paid."""
    await ledger.write(close_account, "carol", T0 + 1)
    for request in (pay("t1", "carol", "bob", 1), pay("t2", "bob", "carol", 1)):
        with pytest.raises(AccountClosed):
            await ledger.write(create_transfer, request, T0 + 2)


async def test_references_group_transfers(ledger):
    """Transfers sharing a reference are listed together, in order."""
    await ledger.write(create_transfer, pay("t1", "alice", "bob", 1, reference="trade-9"), T0)
    await ledger.write(create_transfer, pay("t2", "bob", "carol", 2, reference="trade-9"), T0)
    found = await ledger.read(list_transfers_by_reference, "trade-9")
    assert [t.id for t in found] == ["t1", "t2"]


async def test_peer_clearing_accounts_take_transfers_within_their_limits(ledger):
    """A peer:<domain> account (even for a long domain) holds the clearing position."""
    from exchange.accounts import AccountKind, open_peer_account

    domain = "a" * 200 + ".example"
    peer = await ledger.write(open_peer_account, domain, T0, Limits(5_000, upper_limit_minor=5_000))
    assert (peer.id, peer.kind) == (f"peer:{domain}", AccountKind.PEER)
    request = pay("c1", "alice", peer.id, 4_000, kind=TransferKind.CLEARING)
    await ledger.write(create_transfer, request, T0 + 1)
    with pytest.raises(UpperLimitExceeded):
        await ledger.write(create_transfer, pay("c2", "bob", peer.id, 1_001), T0 + 2)
    await ledger.write(create_transfer, pay("c3", peer.id, "bob", 9_000), T0 + 3)
    with pytest.raises(CreditLimitExceeded):
        await ledger.write(create_transfer, pay("c4", peer.id, "bob", 1), T0 + 4)
    assert await ledger.read(audit) == []
