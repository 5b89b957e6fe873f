"""Members of three real communities pay each other across links, directly and through
a community in between, and every ledger stays zero-sum with mirrored link positions."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import httpx
import pytest

from exchange import clearing
from exchange.errors import IdempotencyConflict
from exchange.peers import LinkStatus
from exchange.settings import get_currency
from fediverse_share.clearing import directory, payments, peering, reconcile, wire
from fediverse_share.worker import run_until_idle
from tests.clearing.conftest import Community


async def _pay(payer: Community, payee: Community, amount: str, code: str):
    quote = await payments.quote(
        payer.runtime, payer.member, payee.member.username, payee.domain, amount, code
    )
    paid = await payments.pay(payer.runtime, payer.member, quote.quote_id, "key-1")
    return quote, paid


async def _leg(c: Community, transfer_id: str) -> clearing.Leg:
    return await c.runtime.db.read(clearing.get_leg, transfer_id)


async def test_peering_activates_both_sides(linked):
    """Both operators' consent makes the link active on both sides, with their own limits."""
    a, b, c = linked
    assert (await a.link(c)).status is LinkStatus.ACTIVE
    assert (await c.link(a)).status is LinkStatus.ACTIVE
    assert (await c.link(b)).status is LinkStatus.ACTIVE
    assert (await a.peer_account(c)).limits.credit_limit_minor == 1000_00
    assert (await c.peer_account(a)).limits.credit_limit_minor == 1000_000
    assert (await c.link(a)).currency_code == "AAA"


async def test_direct_payment_settles_both_ledgers(linked):
    """Alice (AAA) pays Carol 5 CCC: A books 2.50 AAA to peer:C, C books 5 CCC from peer:A."""
    a, _, c = linked
    quote, paid = await _pay(a, c, "5", "CCC")
    assert quote.amount_minor == 2_50
    assert paid.state == "committed"
    assert (await a.account("alice")).balance_minor == -2_50
    assert (await a.peer_account(c)).balance_minor == 2_50
    assert (await c.account("carol")).balance_minor == 5_000
    assert (await c.peer_account(a)).balance_minor == -5_000
    ours, theirs = await _leg(a, quote.transfer_id), await _leg(c, quote.transfer_id)
    assert ours.out_minor == theirs.amount_in_minor == 2_50
    assert ours.downstream_gross_minor == theirs.gross_minor == 5_000
    for community in (a, c):
        assert await community.audit() == []


async def test_a_quote_paid_twice_at_once_with_one_key_is_one_payment(linked):
    """Two requests paying the same quote under the same key at the same moment (each
    may find it unpaid) end as one committed payment, booked once; a third with
    another key is a conflict."""
    a, _, c = linked
    quote = await payments.quote(a.runtime, a.member, "carol", c.domain, "5", "CCC")
    first, second = await asyncio.gather(
        *(payments.pay(a.runtime, a.member, quote.quote_id, "key-1") for _ in range(2))
    )
    assert first.leg is not None and second.leg is not None
    assert first.leg.transfer_id == second.leg.transfer_id == quote.transfer_id
    assert (first.state, second.state) == ("committed", "committed")
    with pytest.raises(IdempotencyConflict):
        await payments.pay(a.runtime, a.member, quote.quote_id, "key-2")
    assert (await a.account("alice")).balance_minor == -2_50
    assert (await c.account("carol")).balance_minor == 5_000
    for community in (a, c):
        assert await community.audit() == []


async def test_routed_payment_goes_through_the_community_between(linked):
    """Alice (A) pays Bob (B) 70 BBB through C; each applies its own rate and fee."""
    a, b, c = linked
    quote, paid = await _pay(a, b, "70", "BBB")
    assert quote.path == (a.domain, c.domain, b.domain)
    assert paid.state == "committed"
    assert (await b.account("bob")).balance_minor >= 70
    legs = [await _leg(x, quote.transfer_id) for x in (a, c, b)]
    assert [leg.state for leg in legs] == [clearing.LegState.COMMITTED] * 3
    assert legs[0].out_minor == legs[1].amount_in_minor
    assert legs[1].out_minor == legs[2].amount_in_minor
    assert legs[0].downstream_gross_minor == legs[1].gross_minor
    assert legs[1].downstream_gross_minor == legs[2].gross_minor
    assert (await b.account("fees")).balance_minor == legs[2].fee_minor > 0
    for community in (a, b, c):
        assert await community.audit() == []
    for x, y in ((a, c), (c, b)):
        assert await reconcile.reconcile_link(x.runtime, y.domain) is True


async def test_payments_both_ways_mirror_the_link_positions(linked):
    """After payments in both directions, each side of a link agrees on what crossed it."""
    a, b, c = linked
    await _pay(a, b, "10", "BBB")
    _, back = await _pay(b, a, "3.00", "AAA")
    assert back.state == "committed"
    assert (await a.account("alice")).balance_minor < 0
    for x, y in ((a, c), (c, b), (c, a), (b, c)):
        assert await reconcile.reconcile_link(x.runtime, y.domain) is True
    for community in (a, b, c):
        assert await community.audit() == []


async def test_the_clearing_document_publishes_routes_with_indicative_rates(linked):
    """A's document lists C directly and B through C, each with an indicative rate from
    the quotes C and B posted (pushed to A, or read from C's document)."""
    a, b, c = linked
    await directory.refresh_routes(a.runtime)
    async with httpx.AsyncClient() as client:
        answer = await client.get(a.instance.base_url + "/clearing")
    assert answer.headers["content-type"].startswith("application/activity+json")
    routes = {r["domain"]: r for r in answer.json()["routes"]}
    assert routes[c.domain]["path"] == [c.domain]
    assert routes[c.domain]["rate"] == "2"  # C gives 2 CCC for 1 AAA, no fee
    assert routes[c.domain]["capacity"] == {"currency": "AAA", "value": "1000.00"}
    assert routes[b.domain]["path"] == [c.domain, b.domain]
    assert Fraction(routes[b.domain]["rate"]) == 2 * Fraction(3, 2) * Fraction(99, 100)
    assert answer.json()["currency"] == {"code": "AAA", "name": "a units", "scale": 2}


async def test_an_older_link_message_delivered_late_does_not_undo_a_newer_one(linked):
    """C ends the link, and its older "active" message arrives after: A keeps it ended."""
    a, _, c = linked
    stamp = c.runtime.now_us()

    def send(conn, status: str, at_us: int) -> None:
        obj = wire.render_link(
            peering.link_id(c.runtime, a.domain),
            c.runtime.instance.instance_actor_uri,
            c.runtime.instance.community_uri,
            get_currency(conn),
            status,
            at_us,
        )
        peering._send(conn, c.runtime, a.runtime.instance.instance_actor_uri, "Update", obj)

    await c.runtime.db.write(send, "ended", stamp)
    await run_until_idle(a.runtime, c.runtime)
    await c.runtime.db.write(send, "active", stamp - 1_000_000)
    await run_until_idle(a.runtime, c.runtime)
    assert (await a.link(c)).status is LinkStatus.ENDED
