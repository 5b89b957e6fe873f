"""Clearing legs across real ledgers: each community its own database, currency and scale.

A routed payment alice (A, AAA scale 2) -> B (BBB scale 0) -> carol (C, CCC scale 3), or
a direct one alice -> bob, is prepared leg by leg from the payer and committed with the
payee's preimage back up, as the settlement protocol does (see tests/exchange/
communities.py for the layout). After every step every ledger passes the audit, sums to
zero and keeps its limits, and only the accounts of the leg move, by its stored amounts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from fractions import Fraction

import pytest
import pytest_asyncio
from sqlalchemy import select

from exchange import tables
from exchange.accounts import Limits, get_account, open_member_account
from exchange.clearing import (
    LegRole,
    LegState,
    abort,
    commit,
    get_leg,
    leg_ref,
    list_legs,
    mark_expired,
    prepare,
)
from exchange.errors import (
    AmountOverQuote,
    CreditLimitExceeded,
    InvalidAmount,
    InvalidRequest,
    LegConflict,
    LegNotPrepared,
    LinkNotActive,
    NoRate,
    RateExpired,
    UnknownAccount,
    UnknownLeg,
    UnknownPeer,
    UpperLimitExceeded,
    WrongFulfilment,
)
from exchange.peers import LinkStatus, consent_locally, get_link, set_status
from exchange.pending import PendingStatus, expire_pending, get_pending_state
from exchange.rates import amount_in_for, current_rate, parse_rate, set_rate
from exchange.transfers import TransferKind, get_transfer, list_transfers_by_reference
from tests.exchange.communities import (
    DAY_US,
    HOUR_US,
    WIDE,
    Payment,
    assert_healthy,
    book,
    changes,
    direct,
    linked_communities,
    migrated_databases,
    peer_ref,
)
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


@pytest_asyncio.fixture(loop_scope="module")
async def pair(databases):
    """A and B afresh, linked."""
    return await linked_communities(databases, ("a.example", "b.example"))


@pytest_asyncio.fixture(loop_scope="module")
async def b_only(databases):
    """B alone (with its links to A and C made, their ledgers not set up)."""
    return (await linked_communities(databases, ("b.example",)))["b"]


def oracle(amount_in: int, rate: Fraction, fee_bps: int, scale: int, peer_scale: int):
    """(gross, fee, out, residue), computed here independently of exchange.rates."""
    exact = amount_in * rate * 10**scale / 10**peer_scale
    gross = round(exact)  # Fraction rounds half to even
    fee = round(Fraction(gross * fee_bps, 10_000))
    return gross, fee, gross - fee, exact - gross


async def snapshots(*communities):
    return [await c.read(ledger_snapshot) for c in communities]


async def test_a_routed_payment_moves_exactly_the_legs_amounts_at_every_step(net):
    """alice pays carol 1,000.000 CCC through B: the quote inverts both conversions; after
    each prepare and each commit (payee first) every ledger is healthy and exactly the
    leg's accounts moved by its amounts (holds, then postings; fees to `fees`); the two
    sides of each link store the same pair of amounts."""
    a, b, c = net["a"], net["b"], net["c"]
    p = Payment("t-routed", 1_000_000)
    c_rate = await c.read(current_rate, "BBB", T0)
    b_rate = await b.read(current_rate, "AAA", T0)
    b_out = amount_in_for(p.deliver_minor, c_rate, 3, 0)
    amount = amount_in_for(b_out, b_rate, 0, 2)
    assert (b_out, amount) == (320, 96_751)
    b_gross, b_fee, b_out_, b_residue = oracle(amount, Fraction(1, 3), 100, 0, 2)
    c_gross, c_fee, c_out, c_residue = oracle(b_out, Fraction(22, 7), 50, 3, 0)
    assert (b_gross, b_fee, b_out_, c_gross, c_fee, c_out) == (
        323,
        3,
        320,
        1_005_714,
        5_029,
        1_000_685,
    )

    steps = [
        (
            a,
            prepare,
            (p.payer(amount), T0),
            {"alice": (0, amount, 0), "peer:b.example": (0, 0, amount)},
        ),
        (
            b,
            prepare,
            (p.hop(amount, rate_id="AAA-1"), T0 + 1),
            {
                "peer:a.example": (0, b_gross, 0),
                "peer:c.example": (0, 0, b_out),
                "fees": (0, 0, b_fee),
            },
        ),
        (
            c,
            prepare,
            (p.payee(b_out), T0 + 2),
            {"peer:b.example": (0, c_gross, 0), "carol": (0, 0, c_out), "fees": (0, 0, c_fee)},
        ),
        (
            c,
            commit,
            (p.transfer_id, p.fulfilment, T0 + 3),
            {
                "peer:b.example": (-c_gross, -c_gross, 0),
                "carol": (c_out, 0, -c_out),
                "fees": (c_fee, 0, -c_fee),
            },
        ),
        (
            b,
            commit,
            (p.transfer_id, p.fulfilment, T0 + 4),
            {
                "peer:a.example": (-b_gross, -b_gross, 0),
                "peer:c.example": (b_out, 0, -b_out),
                "fees": (b_fee, 0, -b_fee),
            },
        ),
        (
            a,
            commit,
            (p.transfer_id, p.fulfilment, T0 + 5),
            {"alice": (-amount, -amount, 0), "peer:b.example": (amount, 0, -amount)},
        ),
    ]
    reported = {"b": c_gross, "a": b_gross}  # what each downstream reports with its Accept
    for community, fn, args, expected in steps:
        before = await community.read(book)
        kwargs = {}
        if fn is commit and community is not c:
            kwargs["downstream_gross_minor"] = reported[community.domain[0]]
        leg = await community.write(fn, *args, **kwargs)
        assert changes(before, await community.read(book)) == expected, (community.domain, fn)
        await assert_healthy(a, b, c)
        assert leg.state is (LegState.PREPARED if fn is prepare else LegState.COMMITTED)

    leg_a, leg_b, leg_c = [await x.read(get_leg, p.transfer_id) for x in (a, b, c)]
    assert (leg_a.role, leg_b.role, leg_c.role) == (LegRole.PAYER, LegRole.HOP, LegRole.PAYEE)
    assert (leg_a.gross_minor, leg_a.fee_minor, leg_a.out_minor) == (amount, 0, amount)
    assert (leg_b.amount_in_minor, leg_b.gross_minor, leg_b.fee_minor, leg_b.out_minor) == (
        amount,
        b_gross,
        b_fee,
        b_out,
    )
    assert (leg_c.amount_in_minor, leg_c.out_minor) == (b_out, c_out)
    assert (leg_b.residue, leg_c.residue) == (b_residue, c_residue)
    assert (leg_b.rate_id, leg_c.rate_id) == ("AAA-1", "BBB-1")
    # The mirrored pairs: what the sender booked is what the receiver converted, and the
    # receiver's gross is what the sender stored as reported back.
    assert (
        leg_a.out_minor == leg_b.amount_in_minor
        and leg_a.downstream_gross_minor == leg_b.gross_minor
    )
    assert (
        leg_b.out_minor == leg_c.amount_in_minor
        and leg_b.downstream_gross_minor == leg_c.gross_minor
    )
    assert leg_c.downstream_gross_minor is None and c_out >= p.deliver_minor
    assert {leg.fulfilment for leg in (leg_a, leg_b, leg_c)} == {p.fulfilment}
    # The link positions: A holds +amount on peer:b; B holds -gross on peer:a (no rounding
    # was due: |residue| < 1) and +out on peer:c; C holds -gross on peer:b.
    assert (await a.read(get_account, "peer:b.example")).balance_minor == amount
    assert (await b.read(get_account, "peer:a.example")).balance_minor == -b_gross
    assert (await b.read(get_account, "peer:c.example")).balance_minor == b_out
    assert (await c.read(get_account, "peer:b.example")).balance_minor == -c_gross
    assert (await b.read(get_link, "a.example")).residue == b_residue
    # The ledger transfers carry the leg's reference and their kinds.
    kinds = [
        (t.kind, t.phase.value)
        for t in await b.read(list_transfers_by_reference, leg_ref(p.transfer_id))
    ]
    assert kinds == [
        (TransferKind.CLEARING, "pending"),
        (TransferKind.FEE, "pending"),
        (TransferKind.CLEARING, "post"),
        (TransferKind.FEE, "post"),
    ]


async def test_replaying_prepare_commit_and_abort_changes_nothing(pair):
    """The same prepare, commit or abort again returns the stored leg and writes nothing,
    also once the leg has moved on (a prepare replayed after its commit, or after the
    link was suspended)."""
    a, b = pair["a"], pair["b"]
    p, q = direct("t-replay"), direct("t-replay-2")
    leg = await a.write(prepare, p.payer(3_000), T0)
    leg_b = await b.write(prepare, p.payee(3_000, at="b"), T0)
    before = await snapshots(a, b)
    assert await a.write(prepare, p.payer(3_000), T0 + 10) == leg
    assert await b.write(prepare, p.payee(3_000, at="b"), T0 + 10) == leg_b
    assert await snapshots(a, b) == before

    committed = await b.write(commit, p.transfer_id, p.fulfilment, T0 + 20)
    before = await snapshots(a, b)
    assert await b.write(commit, p.transfer_id, p.fulfilment, T0 + 30) == committed
    assert await b.write(prepare, p.payee(3_000, at="b"), T0 + 30) == committed
    assert await snapshots(a, b) == before
    await b.write(set_status, "a.example", LinkStatus.SUSPENDED, T0 + 31)
    before = await snapshots(a, b)
    assert await b.write(prepare, p.payee(3_000, at="b"), T0 + 32) == committed
    assert await snapshots(a, b) == before

    await a.write(prepare, q.payer(1_000), T0)
    aborted = await a.write(abort, q.transfer_id, "payer_gave_up", T0 + 40)
    assert (aborted.state, aborted.error_code) == (LegState.ABORTED, "payer_gave_up")
    before = await snapshots(a)
    assert await a.write(abort, q.transfer_id, "again", T0 + 50) == aborted
    assert await a.write(prepare, q.payer(1_000), T0 + 50) == aborted
    assert await snapshots(a) == before
    await assert_healthy(a, b)


async def test_a_transfer_id_reused_with_other_data_is_a_leg_conflict(pair):
    """Another amount, condition, payer, payee, neighbour, path, destination, amount owed,
    expiry, memo or cited rate under a prepared transfer id is LegConflict, and writes
    nothing."""
    a, b = pair["a"], pair["b"]
    p = direct("t-conflict", deliver_minor=10)
    await a.write(open_member_account, "dave", T0)
    await b.write(open_member_account, "erin", T0)
    await a.write(prepare, p.payer(3_000), T0)
    await b.write(prepare, p.payee(3_000, at="b"), T0)
    other_condition = Payment("t-other", 10).condition
    payer_variants = [
        p.payer(3_001),
        p.payer(3_000, payer_account_id="dave"),
        p.payer(3_000, downstream="c.example"),
        p.payer(3_000, expires=T0 + 4 * HOUR_US),
        p.payer(3_000, memo="other"),
        replace(p.payer(3_000), deliver=direct("t-conflict", 11).deliver),
        replace(p.payer(3_000), destination="acct:erin@b.example"),
        replace(p.payer(3_000), condition=other_condition),
        replace(p.payer(3_000), path=("a.example", "x.example", "b.example")),
        p.payer(3_000, rate_ids={"b.example": "AAA-1"}),
    ]
    payee_variants = [
        p.payee(3_003, at="b"),
        p.payee(3_000, at="b", payee_account_id="erin"),
        p.payee(3_000, at="b", rate_id="AAA-9"),
        p.payee(3_000, T0 + 2 * HOUR_US, at="b"),
        p.payee(3_000, at="b", upstream="c.example"),
        p.payee(3_000, at="b", deliver_minor=11),
        p.payee(3_000, at="b", memo="other"),
    ]
    before = await snapshots(a, b)
    for request in payer_variants:
        with pytest.raises(LegConflict):
            await a.write(prepare, request, T0 + 1)
    for request in payee_variants:
        with pytest.raises(LegConflict):
            await b.write(prepare, request, T0 + 1)
    assert await snapshots(a, b) == before
    # Citing the rate the leg used, or the condition in capitals, is the same request.
    same = [
        (b, p.payee(3_000, at="b", rate_id="AAA-1")),
        (a, replace(p.payer(3_000), condition=p.condition.upper())),
    ]
    for community, request in same:
        assert (await community.write(prepare, request, T0 + 2)).state is LegState.PREPARED
    assert await snapshots(a, b) == before


async def test_a_wrong_fulfilment_is_refused_and_changes_nothing(pair):
    """Another 32-byte secret is WrongFulfilment (before and after the commit); a
    malformed one is InvalidRequest; an unknown transfer is UnknownLeg; nothing moves."""
    a, b = pair["a"], pair["b"]
    p = direct("t-wrong")
    await a.write(prepare, p.payer(3_000), T0)
    await b.write(prepare, p.payee(3_000, at="b"), T0)
    wrong = hashlib.sha256(b"a guess").hexdigest()
    before = await snapshots(a, b)
    for community in (a, b):
        with pytest.raises(WrongFulfilment):
            await community.write(commit, p.transfer_id, wrong, T0 + 1)
        for malformed in ("", "zz" * 32, p.fulfilment[:62], p.fulfilment + "00"):
            with pytest.raises(InvalidRequest):
                await community.write(commit, p.transfer_id, malformed, T0 + 1)
        with pytest.raises(UnknownLeg):
            await community.write(commit, "t-nobody", p.fulfilment, T0 + 1)
    assert await snapshots(a, b) == before
    assert (await b.read(get_leg, p.transfer_id)).state is LegState.PREPARED

    await b.write(commit, p.transfer_id, p.fulfilment.upper(), T0 + 2)  # hex in any case
    before = await snapshots(b)
    with pytest.raises(WrongFulfilment):
        await b.write(commit, p.transfer_id, wrong, T0 + 3)
    assert await snapshots(b) == before


async def test_payments_both_ways_net_each_links_mirrored_positions(net):
    """alice pays carol, then carol pays alice back (C -> B -> A at the reverse rates):
    on each side of each link the peer account equals what was sent (out) minus what was
    received (gross) minus the rounding booked against it, from the stored legs alone."""
    a, b, c = net["a"], net["b"], net["c"]
    forward = Payment("t-forward", 1_000_000)
    await settle(net, forward, [forward.payer(96_751), None, None])
    back = Payment("t-back", 5_000, "acct:alice@a.example", ("c.example", "b.example", "a.example"))
    expires = [T0 + 3 * HOUR_US, T0 + 2 * HOUR_US, T0 + HOUR_US]
    assert amount_in_for(5_000, await a.read(current_rate, "BBB", T0), 2, 0) == 17
    assert amount_in_for(17, await b.read(current_rate, "CCC", T0), 0, 3) == 51_858
    requests = [
        back.request(51_858, expires[0], downstream="b.example", payer_account_id="carol"),
        back.request(0, expires[1], upstream="c.example", downstream="a.example"),
        back.request(
            0, expires[2], upstream="b.example", payee_account_id="alice", deliver_minor=5_000
        ),
    ]
    legs = await settle(net, back, requests, order=(c, b, a))
    assert legs[-1].out_minor >= 5_000
    await assert_healthy(a, b, c)

    for community, peers in (
        (a, ("b.example",)),
        (b, ("a.example", "c.example")),
        (c, ("b.example",)),
    ):
        for domain in peers:
            sent = received = 0
            for leg in await community.read(list_legs, domain=domain):
                assert leg.state is LegState.COMMITTED
                if leg.downstream_domain == domain:
                    sent += leg.out_minor
                if leg.upstream_domain == domain:
                    received += leg.gross_minor
            rounding = await community.read(rounding_against, f"peer:{domain}")
            balance = (await community.read(get_account, f"peer:{domain}")).balance_minor
            assert balance == sent - received - rounding, (community.domain, domain)
            assert sent and received


async def settle(net, p: Payment, requests, order=None):
    """Prepare ``requests`` along the path (each hop's amount in is the previous leg's
    out), then commit from the payee back up, reporting each downstream's gross."""
    order = order or (net["a"], net["b"], net["c"])
    legs = []
    for community, request in zip(order, requests, strict=True):
        if request is None:
            request = p.hop(0) if community is net["b"] else p.payee(0)
        if legs:
            request = replace(request, amount_minor=legs[-1].out_minor)
        legs.append(await community.write(prepare, request, T0))
    gross = None
    for community, leg in reversed(list(zip(order, legs, strict=True))):
        done = await community.write(
            commit, p.transfer_id, p.fulfilment, T0 + 1, downstream_gross_minor=gross
        )
        assert done.state is LegState.COMMITTED
        gross = leg.gross_minor
    return legs


def rounding_against(conn, account_id: str) -> int:
    """The residue booked to `rounding` against ``account_id`` (what it was debited)."""
    t = tables.transfers
    rows = conn.execute(
        select(t.c.debit_account_id, t.c.amount_minor).where(
            t.c.kind == "rounding",
            (t.c.debit_account_id == account_id) | (t.c.credit_account_id == account_id),
        )
    )
    return sum(amount if debit == account_id else -amount for debit, amount in rows)


async def test_a_suspended_link_refuses_new_legs_but_completes_prepared_ones(net):
    """After B suspends its link with A, a new leg over it is refused at B (as hop or as
    payee) and by A once A suspends too; legs already prepared still commit."""
    a, b, c = net["a"], net["b"], net["c"]
    p = Payment("t-before", 1_000)
    leg = await a.write(prepare, p.payer(3_000), T0)
    hop = await b.write(prepare, p.hop(leg.out_minor), T0)
    leg_c = await c.write(prepare, p.payee(hop.out_minor), T0)
    await b.write(set_status, "a.example", LinkStatus.SUSPENDED, T0 + 1)
    await a.write(set_status, "b.example", LinkStatus.SUSPENDED, T0 + 1)

    late = Payment("t-after", 1_000)
    before = await snapshots(a, b, c)
    with pytest.raises(LinkNotActive):
        await a.write(prepare, late.payer(3_000), T0 + 2)
    with pytest.raises(LinkNotActive):
        await b.write(prepare, late.hop(3_000), T0 + 2)
    with pytest.raises(LinkNotActive):
        await b.write(prepare, direct("t-after").payee(3_000, at="b"), T0 + 2)
    assert await snapshots(a, b, c) == before

    await c.write(commit, p.transfer_id, p.fulfilment, T0 + 3)
    await b.write(
        commit, p.transfer_id, p.fulfilment, T0 + 4, downstream_gross_minor=leg_c.gross_minor
    )
    done = await a.write(
        commit, p.transfer_id, p.fulfilment, T0 + 5, downstream_gross_minor=hop.gross_minor
    )
    assert done.state is LegState.COMMITTED
    await assert_healthy(a, b, c)

    await b.write(set_status, "a.example", LinkStatus.ACTIVE, T0 + 6)
    await a.write(set_status, "b.example", LinkStatus.ACTIVE, T0 + 6)
    assert (await a.write(prepare, late.payer(3_000), T0 + 7)).state is LegState.PREPARED


async def test_holds_count_against_the_peer_accounts_limits(pair):
    """A's upper limit on peer:b counts the holds already prepared; B's credit limit on
    peer:a counts them too, including the fee's hold. A refused prepare leaves nothing."""
    a, b = pair["a"], pair["b"]
    await a.write(consent_locally, b.ref(), Limits(0, 10_000), T0)
    await b.write(consent_locally, a.ref(), Limits(100, 0), T0)
    await a.write(prepare, direct("h1").payer(6_000), T0)
    before = await snapshots(a)
    with pytest.raises(UpperLimitExceeded):
        await a.write(prepare, direct("h2").payer(4_001), T0 + 1)
    assert await snapshots(a) == before
    await a.write(prepare, direct("h2").payer(4_000), T0 + 1)

    # B: 9,000 AAA minor are 30 BBB gross (fee 0), leaving 70 of peer:a's credit limit.
    first = await b.write(prepare, direct("h1").payee(9_000, at="b"), T0)
    assert (first.gross_minor, first.fee_minor, first.out_minor) == (30, 0, 30)
    before = await snapshots(b)
    with pytest.raises(CreditLimitExceeded):  # out 79 alone crosses it
        await b.write(prepare, direct("h2").payee(24_000, at="b"), T0 + 1)
    with pytest.raises(CreditLimitExceeded):  # out 70 fits, but not with the fee's hold of 1
        await b.write(prepare, direct("h3").payee(21_300, at="b"), T0 + 1)
    assert await snapshots(b) == before
    assert (await b.read(get_account, "peer:a.example")).available_minor == -30
    fits = await b.write(prepare, direct("h3").payee(21_000, at="b"), T0 + 1)
    assert (fits.gross_minor, fits.fee_minor, fits.out_minor) == (70, 1, 69)
    assert (await b.read(get_account, "peer:a.example")).available_minor == -100
    before = await snapshots(b)
    with pytest.raises(CreditLimitExceeded):
        await b.write(prepare, direct("h4").payee(300, at="b"), T0 + 1)
    assert await snapshots(b) == before
    await assert_healthy(a, b)


async def test_a_commit_after_the_holds_expired_leaves_the_leg_in_doubt(net):
    """C commits in time but the preimage reaches B after B's holds expired and were
    released: B's leg is in doubt (fulfilment kept, nothing posted), not committed."""
    a, b, c = net["a"], net["b"], net["c"]
    p = Payment("t-late", 1_000)
    leg = await a.write(prepare, p.payer(30_000), T0)
    hop = await b.write(prepare, p.hop(leg.out_minor), T0)
    assert hop.fee_minor == 1
    await c.write(prepare, p.payee(hop.out_minor), T0)
    await c.write(commit, p.transfer_id, p.fulfilment, T0 + HOUR_US - 1)

    late = hop.expires_at_us + 1
    released = await b.write(expire_pending, late)
    assert sorted(t.pending_id for t in released) == sorted([hop.main_id, hop.fee_id])
    before = await b.read(book)
    doubt = await b.write(commit, p.transfer_id, p.fulfilment, late, downstream_gross_minor=7)
    assert (doubt.state, doubt.fulfilment, doubt.downstream_gross_minor) == (
        LegState.IN_DOUBT,
        p.fulfilment,
        7,
    )
    assert await b.read(book) == before
    assert all(v == (0, 0, 0) for k, v in before.items() if k.startswith("peer:"))
    assert await b.write(commit, p.transfer_id, p.fulfilment, late + 1) == doubt
    with pytest.raises(LegNotPrepared):
        await b.write(abort, p.transfer_id, "too_late", late + 2)
    assert [x.transfer_id for x in await b.read(list_legs, states=(LegState.IN_DOUBT,))] == [
        p.transfer_id
    ]
    await assert_healthy(a, c)
    await assert_healthy(b, warnings=("clearing_leg_in_doubt",))  # for the operator


async def test_a_commit_after_expiry_is_in_doubt_even_before_the_worker_ran(b_only):
    """Past the expiry the holds are no longer open (though not yet released): a commit
    makes the leg in doubt and posts nothing; the worker then releases the holds."""
    b = b_only
    p = direct("t-expiring")
    leg = await b.write(prepare, p.payee(30_000, at="b"), T0)
    before = await b.read(book)
    doubt = await b.write(commit, p.transfer_id, p.fulfilment, leg.expires_at_us)
    assert doubt.state is LegState.IN_DOUBT
    assert await b.read(book) == before
    await b.write(expire_pending, leg.expires_at_us)
    state = await b.read(get_pending_state, leg.main_id, leg.expires_at_us)
    assert state.status is PendingStatus.EXPIRED
    assert all(v == (0, 0, 0) for k, v in (await b.read(book)).items())
    await assert_healthy(b, warnings=("clearing_leg_in_doubt",))


async def test_an_expired_leg_is_marked_released_and_then_in_doubt_if_fulfilled(b_only):
    """mark_expired does nothing before the expiry; after it the leg is expired, abort
    keeps it so, the worker releases its holds, and a late preimage makes it in doubt."""
    b = b_only  # bob pays someone in C
    p = direct("t-mark")
    leg = await b.write(prepare, p.payer(3, payer_account_id="bob", downstream="c.example"), T0)
    assert await b.write(mark_expired, p.transfer_id, leg.expires_at_us - 1) == leg
    expired = await b.write(mark_expired, p.transfer_id, leg.expires_at_us)
    assert (expired.state, expired.error_code) == (LegState.EXPIRED, "expired")
    assert await b.write(abort, p.transfer_id, "late", leg.expires_at_us + 1) == expired
    assert await b.write(mark_expired, p.transfer_id, leg.expires_at_us + 2) == expired
    assert (await b.read(get_account, "bob")).debits_pending_minor == 3  # until released
    await b.write(expire_pending, leg.expires_at_us)
    assert (await b.read(get_account, "bob")).debits_pending_minor == 0
    doubt = await b.write(commit, p.transfer_id, p.fulfilment, leg.expires_at_us + 3)
    assert doubt.state is LegState.IN_DOUBT
    assert all(v == (0, 0, 0) for v in (await b.read(book)).values())

    # An abort that arrives after the expiry, before mark_expired, also says expired.
    q = direct("t-abort-late")
    leg = await b.write(
        prepare,
        q.payer(
            1, expires=leg.expires_at_us + HOUR_US, payer_account_id="bob", downstream="c.example"
        ),
        leg.expires_at_us,
    )
    assert (
        await b.write(abort, q.transfer_id, "late", leg.expires_at_us)
    ).state is LegState.EXPIRED
    await assert_healthy(b, warnings=("clearing_leg_in_doubt",))


async def test_an_aborted_leg_releases_its_holds_and_cannot_be_committed(b_only):
    """Abort voids the leg's holds (main and fee), so the limits are free again; a
    preimage arriving afterwards is LegNotPrepared; a committed leg cannot be aborted."""
    b = b_only
    p = direct("t-abort")
    before = await b.read(book)
    leg = await b.write(prepare, p.payee(30_000, at="b"), T0)
    assert leg.fee_minor == 1
    aborted = await b.write(abort, p.transfer_id, "downstream_refused", T0 + 1)
    assert aborted.state is LegState.ABORTED
    assert await b.read(book) == before
    for pending_id in (leg.main_id, leg.fee_id):
        assert (await b.read(get_pending_state, pending_id, T0 + 2)).status is PendingStatus.VOIDED
    snapshot = await snapshots(b)
    with pytest.raises(LegNotPrepared):
        await b.write(commit, p.transfer_id, p.fulfilment, T0 + 3)
    assert await snapshots(b) == snapshot

    q = direct("t-commit")
    await b.write(prepare, q.payee(30_000, at="b"), T0)
    await b.write(commit, q.transfer_id, q.fulfilment, T0 + 1)
    snapshot = await snapshots(b)
    with pytest.raises(LegNotPrepared):
        await b.write(abort, q.transfer_id, "too_late", T0 + 2)
    with pytest.raises(UnknownLeg):
        await b.write(abort, "t-nobody", "x", T0 + 2)
    assert await snapshots(b) == snapshot
    await assert_healthy(b)


async def test_rounding_residue_accumulates_and_books_whole_units_to_rounding(b_only):
    """At 1/300 BBB per AAA minor unit, each payee leg leaves a residue of -1/2..1/2 BBB;
    the link keeps the sum and books it to `rounding` (against peer:a) a whole unit at a
    time, once it reaches one (not at a half: that would be rounding twice), so
    peer:a tracks the exact value within one unit, and the ledger stays zero-sum."""
    b = b_only
    amounts = [3_100, 3_100, 3_100, 3_200, 3_200, 3_200, 3_200, 3_050, 2_950, 3_149, 3_151]
    exact_total = Fraction(0)
    gross_total = 0
    kept = Fraction(0)  # the link's residue: a whole unit is booked once it adds up to one
    for i, amount in enumerate(amounts):
        p = direct(f"t-round-{i}")
        leg = await b.write(prepare, p.payee(amount, at="b"), T0 + i)
        await b.write(commit, p.transfer_id, p.fulfilment, T0 + i)
        gross, _, _, residue = oracle(amount, Fraction(1, 3), 100, 0, 2)
        assert (leg.gross_minor, leg.residue) == (gross, residue)
        exact_total += Fraction(amount, 300)
        gross_total += gross
        link = await b.read(get_link, "a.example")
        rounding = (await b.read(get_account, "rounding")).balance_minor
        peer = (await b.read(get_account, "peer:a.example")).balance_minor
        kept += residue
        kept -= math.trunc(kept)
        assert link.residue == kept and abs(kept) < 1
        assert rounding + link.residue == exact_total - gross_total
        assert peer == -gross_total - rounding
        assert abs(-peer - exact_total) < 1
        await assert_healthy(b)
    booked = await b.read(_rounding_transfers)
    assert booked and {t.amount_minor for t in booked} == {1}
    assert {(t.debit_account_id, t.credit_account_id) for t in booked} == {
        ("peer:a.example", "rounding"),
        ("rounding", "peer:a.example"),
    }


def _rounding_transfers(conn):
    t = tables.transfers
    ids = conn.execute(select(t.c.id).where(t.c.kind == "rounding").order_by(t.c.ordinal)).scalars()
    return [get_transfer(conn, i) for i in ids]


async def test_a_full_peer_limit_keeps_the_residue_for_a_later_leg(b_only):
    """When booking a whole unit of residue would cross peer:a's credit limit, the link
    keeps it (|residue| >= 1 for a while) and books it with a later leg."""
    b = b_only
    await b.write(consent_locally, peer_ref("a.example"), Limits(30, None), T0)
    for i in range(3):  # 10 1/3 BBB each: gross 10, residue +1/3
        p = direct(f"t-full-{i}")
        await b.write(prepare, p.payee(3_100, at="b"), T0)
        await b.write(commit, p.transfer_id, p.fulfilment, T0)
    assert (await b.read(get_link, "a.example")).residue == Fraction(1)
    assert (await b.read(get_account, "peer:a.example")).balance_minor == -30
    assert (await b.read(get_account, "rounding")).balance_minor == 0
    await assert_healthy(b)
    # A limit that has room: the next leg books its own residue and the one kept.
    await b.write(consent_locally, peer_ref("a.example"), WIDE, T0 + 1)
    p = direct("t-full-3")
    await b.write(prepare, p.payee(3_100, at="b"), T0 + 1)
    await b.write(commit, p.transfer_id, p.fulfilment, T0 + 1)
    assert (await b.read(get_link, "a.example")).residue == Fraction(1, 3)
    assert (await b.read(get_account, "rounding")).balance_minor == 1
    assert (await b.read(get_account, "peer:a.example")).balance_minor == -41
    await assert_healthy(b)


async def test_fees_go_to_the_fees_account(b_only):
    """B's 1 % fee is taken from gross to `fees` on commit, and out reaches bob."""
    b = b_only
    p = direct("t-fee", deliver_minor=990)
    leg = await b.write(prepare, p.payee(300_000, at="b"), T0)
    assert (leg.gross_minor, leg.fee_minor, leg.out_minor) == (1_000, 10, 990)
    before = await b.read(book)
    await b.write(commit, p.transfer_id, p.fulfilment, T0 + 1)
    assert changes(before, await b.read(book)) == {
        "peer:a.example": (-1_000, -1_000, 0),
        "bob": (990, 0, -990),
        "fees": (10, 0, -10),
    }
    await assert_healthy(b)


async def test_the_receiving_side_checks_rate_quote_and_amount_owed(pair):
    """A payee leg refuses to deliver less than owed, an amount too small to carry, a
    gross over the quote's maximum, a cited quote past its validity or of another
    currency, an unknown or unlinked upstream; each refusal writes nothing."""
    a, b = pair["a"], pair["b"]
    await b.write(
        set_rate, "AAA", parse_rate("1/3"), fee_bps=100, max_amount_minor=500,
        valid_from_us=T0, valid_until_us=T0 + HOUR_US,
    )  # fmt: skip
    await b.write(
        set_rate, "CCC", parse_rate("2"), fee_bps=0, max_amount_minor=500,
        valid_from_us=T0, valid_until_us=T0 + DAY_US,
    )  # fmt: skip
    before = await snapshots(a, b)
    cases = [
        (direct("r1", deliver_minor=80).payee(24_000, at="b"), T0, InvalidAmount),  # out 79
        (direct("r2").payee(100, at="b"), T0, InvalidAmount),  # 1/3 BBB: nothing to carry
        (direct("r3").payee(150_300, at="b"), T0, AmountOverQuote),  # 501 gross
        (direct("r4").payee(3_000, at="b", rate_id="AAA-1"), T0 + 30 * DAY_US, RateExpired),
        (direct("r5").payee(3_000, at="b", rate_id="AAA-2"), T0 + HOUR_US, RateExpired),
        (direct("r6").payee(3_000, at="b", rate_id="CCC-1"), T0, NoRate),
        (direct("r7").payee(3_000, at="b", rate_id="AAA-9"), T0, NoRate),
        (direct("r8").payee(3_000, at="b", upstream="x.example"), T0, UnknownPeer),
        (direct("r9").payee(3_000, at="b", payee_account_id="nobody"), T0, UnknownAccount),
        (direct("r10").payer(0), T0, InvalidAmount),
        (direct("r11").payer(100, expires=T0), T0, InvalidRequest),
        (direct("r12").payer(100, downstream=None), T0, InvalidRequest),
    ]
    for request, now, error in cases:
        with pytest.raises(error):
            await (a if request.payer_account_id else b).write(prepare, request, now)
    assert await snapshots(a, b) == before
    # The newer version AAA-2 is current; AAA-1 cited stays honoured while valid.
    honoured = await b.write(prepare, direct("r13").payee(150_000, at="b", rate_id="AAA-1"), T0 + 1)
    assert (honoured.rate_id, honoured.gross_minor) == ("AAA-1", 500)
