"""Reconciliation statements between the two sides of a link, each in its own ledger."""

from __future__ import annotations

import hashlib

import pytest
import pytest_asyncio
from sqlalchemy import select

from exchange import clearing_tables as ct
from exchange.clearing import abort, commit, get_leg, prepare
from exchange.errors import LinkNotActive, UnknownPeer
from exchange.peers import LinkStatus, active_link, get_link, set_status
from exchange.pending import expire_pending
from exchange.reconciliation import Statement, next_seq, record, statement
from tests.exchange.communities import Payment, direct, linked_communities, migrated_databases
from tests.exchange.conftest import T0
from tests.exchange.snapshots import ledger_snapshot

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def databases(tmp_path_factory):
    """Migrated databases for A, B and C, shared by this module's tests."""
    async with migrated_databases(tmp_path_factory.mktemp("clearing")) as found:
        yield found


@pytest_asyncio.fixture(loop_scope="module")
async def net(databases):
    """A, B and C afresh, linked A - B - C."""
    return await linked_communities(databases)


async def routed(net, p: Payment, amount: int, *, now: int = T0, a_reports: int = 0):
    """Prepare and commit ``p`` on A, B and C; A stores B's gross plus ``a_reports``."""
    a, b, c = net["a"], net["b"], net["c"]
    leg_a = await a.write(prepare, p.payer(amount), now)
    leg_b = await b.write(prepare, p.hop(leg_a.out_minor), now)
    leg_c = await c.write(prepare, p.payee(leg_b.out_minor), now)
    await c.write(commit, p.transfer_id, p.fulfilment, now)
    gross_c, gross_b = leg_c.gross_minor, leg_b.gross_minor + a_reports
    await b.write(commit, p.transfer_id, p.fulfilment, now, downstream_gross_minor=gross_c)
    await a.write(commit, p.transfer_id, p.fulfilment, now, downstream_gross_minor=gross_b)


async def direct_to_bob(net, p: Payment, amount: int, now: int = T0):
    a, b = net["a"], net["b"]
    leg_a = await a.write(prepare, p.payer(amount), now)
    leg_b = await b.write(prepare, p.payee(leg_a.out_minor, at="b"), now)
    await b.write(commit, p.transfer_id, p.fulfilment, now)
    await a.write(
        commit, p.transfer_id, p.fulfilment, now, downstream_gross_minor=leg_b.gross_minor
    )


def statement_rows(conn, domain: str):
    s = ct.statements
    rows = conn.execute(
        select(s.c.seq, s.c.direction, s.c.legs, s.c.matched).where(s.c.domain == domain)
    )
    return sorted(tuple(row) for row in rows)


async def test_both_sides_of_a_link_state_the_same_legs(net):
    """After routed and direct payments, A and B state the same legs of their link, and B
    and C of theirs: the count, and the hash of the sorted lines "id|sent|received"."""
    a, b, c = net["a"], net["b"], net["c"]
    await routed(net, Payment("t1", 1_000), 30_000)
    await routed(net, Payment("t2", 5_000_000), 600_000)
    await direct_to_bob(net, direct("t3"), 3_100)
    await a.write(prepare, direct("t4").payer(3_100), T0)
    await a.write(abort, "t4", "payer_gave_up", T0 + 1)  # aborted legs are not stated

    ab, ba = await a.read(statement, "b.example"), await b.read(statement, "a.example")
    bc, cb = await b.read(statement, "c.example"), await c.read(statement, "b.example")
    assert ab == ba and ab is not None and ab.legs == 3
    assert bc == cb and bc is not None and bc.legs == 2
    lines = []
    for tid in ("t1", "t2", "t3"):
        leg = await b.read(get_leg, tid)
        lines.append(f"{tid}|{leg.amount_in_minor}|{leg.gross_minor}")
    assert ab.legs_hash == hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    with pytest.raises(UnknownPeer):
        await a.read(statement, "x.example")


async def test_there_is_no_statement_while_a_leg_on_the_link_is_prepared(net):
    """A prepared leg (its outcome may be on its way) makes the statement of each link it
    touches None; once every leg is settled or aborted, the sides agree again."""
    a, b, c = net["a"], net["b"], net["c"]
    await routed(net, Payment("t1", 1_000), 30_000)
    p = Payment("t2", 1_000)
    leg_a = await a.write(prepare, p.payer(30_000), T0)
    assert await a.read(statement, "b.example") is None
    assert await b.read(statement, "a.example") is not None
    await b.write(prepare, p.hop(leg_a.out_minor), T0)
    assert await b.read(statement, "a.example") is None
    assert await b.read(statement, "c.example") is None
    assert await c.read(statement, "b.example") is not None

    await b.write(abort, p.transfer_id, "downstream_refused", T0 + 1)
    await a.write(abort, p.transfer_id, "downstream_refused", T0 + 1)
    ab, ba = await a.read(statement, "b.example"), await b.read(statement, "a.example")
    assert ab == ba and ab is not None and ab.legs == 1
    assert await b.read(statement, "c.example") == await c.read(statement, "b.example")


async def test_a_mismatch_freezes_the_link_and_is_recorded(net):
    """A stored another gross for B than B booked: the statements differ; recording B's
    at A returns False, keeps it with matched=False and freezes the link, which then
    refuses new legs until an operator resumes it."""
    a, b = net["a"], net["b"]
    await routed(net, Payment("t1", 1_000), 30_000, a_reports=1)
    ours, theirs = await a.read(statement, "b.example"), await b.read(statement, "a.example")
    assert ours is not None and theirs is not None
    assert ours.legs == theirs.legs == 1 and ours != theirs

    seq = await a.read(next_seq, "b.example")
    assert seq == 1
    assert await a.write(record, "b.example", seq, "received", theirs, ours, T0 + 5) is False
    link = await a.read(get_link, "b.example")
    assert (link.status, link.note) == (
        LinkStatus.FROZEN,
        "statement 1: they count 1 legs, we count 1",
    )
    assert link.statement_seq == 1
    assert await a.read(statement_rows, "b.example") == [(1, "received", 1, False)]
    with pytest.raises(LinkNotActive):
        await a.read(active_link, "b.example")
    with pytest.raises(LinkNotActive):
        await a.write(prepare, Payment("t2", 1_000).payer(30_000), T0 + 6)
    # B, told of A's statement, finds the mismatch too.
    assert await b.write(record, "a.example", 1, "received", ours, theirs, T0 + 5) is False
    assert (await b.read(get_link, "a.example")).status is LinkStatus.FROZEN
    # Nothing was "fixed": the legs are as they were; the operator decides.
    assert (await a.read(get_leg, "t1")).downstream_gross_minor == (
        await b.read(get_leg, "t1")
    ).gross_minor + 1
    assert (
        await a.write(set_status, "b.example", LinkStatus.ACTIVE, T0 + 7)
    ).status is LinkStatus.ACTIVE


async def test_a_leg_in_doubt_shows_as_a_mismatch(net):
    """C committed but B's holds had expired: B's leg is in doubt and not stated, so B's
    and C's statements differ and recording C's at B freezes B's link with C."""
    a, b, c = net["a"], net["b"], net["c"]
    p = Payment("t-late", 1_000)
    leg_a = await a.write(prepare, p.payer(30_000), T0)
    leg_b = await b.write(prepare, p.hop(leg_a.out_minor), T0)
    await c.write(prepare, p.payee(leg_b.out_minor), T0)
    await c.write(commit, p.transfer_id, p.fulfilment, T0 + 1)
    late = leg_b.expires_at_us
    await b.write(expire_pending, late)
    await b.write(commit, p.transfer_id, p.fulfilment, late)
    await a.write(abort, p.transfer_id, "in_doubt_downstream", late)

    ours, theirs = await b.read(statement, "c.example"), await c.read(statement, "b.example")
    assert ours == Statement(0, hashlib.sha256(b"").hexdigest())
    assert theirs is not None and theirs.legs == 1
    assert await b.write(record, "c.example", 1, "received", theirs, ours, late + 1) is False
    link = await b.read(get_link, "c.example")
    assert (link.status, link.note) == (
        LinkStatus.FROZEN,
        "statement 1: they count 1 legs, we count 0",
    )
    assert (await b.read(get_link, "a.example")).status is LinkStatus.ACTIVE


async def test_replaying_a_recorded_statement_returns_the_recorded_outcome(net):
    """Recording a seq again (in the same direction) returns what was recorded the first
    time, whatever statements come with it, and writes nothing."""
    a, b = net["a"], net["b"]
    await routed(net, Payment("t1", 1_000), 30_000)
    ours = await a.read(statement, "b.example")
    assert ours is not None
    other = Statement(ours.legs + 1, "0" * 64)

    assert await a.write(record, "b.example", 1, "sent", ours, ours, T0 + 5) is True
    before = await a.read(ledger_snapshot)
    assert await a.write(record, "b.example", 1, "sent", other, ours, T0 + 6) is True
    assert await a.read(ledger_snapshot) == before
    assert (await a.read(get_link, "b.example")).status is LinkStatus.ACTIVE

    assert await a.write(record, "b.example", 2, "received", other, ours, T0 + 7) is False
    before = await a.read(ledger_snapshot)
    assert await a.write(record, "b.example", 2, "received", ours, ours, T0 + 8) is False
    assert await a.read(ledger_snapshot) == before
    assert await a.read(statement_rows, "b.example") == [
        (1, "sent", ours.legs, True),
        (2, "received", ours.legs + 1, False),
    ]
    assert await a.read(next_seq, "b.example") == 3
    assert (await b.read(get_link, "a.example")).status is LinkStatus.ACTIVE


async def test_matching_statements_keep_the_link_and_the_same_running_hash(net):
    """A sends its statement and B receives it: both match, the links stay active and
    both sides hold the same running hash SHA-256(previous | seq | legs hash)."""
    a, b = net["a"], net["b"]
    await routed(net, Payment("t1", 1_000), 30_000)
    await direct_to_bob(net, direct("t2"), 9_000)
    mine, yours = await a.read(statement, "b.example"), await b.read(statement, "a.example")
    assert mine is not None and mine == yours
    assert await a.write(record, "b.example", 1, "sent", mine, mine, T0 + 5) is True
    assert await b.write(record, "a.example", 1, "received", mine, yours, T0 + 5) is True
    link_a, link_b = await a.read(get_link, "b.example"), await b.read(get_link, "a.example")
    assert link_a.status is link_b.status is LinkStatus.ACTIVE
    expected = hashlib.sha256(f"|1|{mine.legs_hash}".encode()).hexdigest()
    assert link_a.statement_hash == link_b.statement_hash == expected
    assert (link_a.statement_seq, link_b.statement_seq) == (1, 1)
