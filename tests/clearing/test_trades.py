"""A member of A buys or rents a listing of B (linked through C) and pays its price
through clearing: both servers record the trade, both ledgers move, audits stay clean;
a payment event without a committed clearing transfer is refused; a payment in flight
is recorded once it commits; without a clearing path the price stays outside the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Connection, select, update

from exchange import clearing
from exchange.errors import LedgerError
from exchange.trade_store import find_trade_by_agreement, get_trade
from exchange.trade_terms import Trade, TradeState
from fediverse_share import tables
from fediverse_share.clearing import payments, recovery
from fediverse_share.clock import now_us
from fediverse_share.errors import AppError
from fediverse_share.federation import actions, delivery, inbox, publish
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.members import Member
from fediverse_share.trades import negotiation, steps
from fediverse_share.trades.wire import render_event
from fediverse_share.worker import run_until_idle
from tests.clearing.conftest import Community, community
from tests.support.tokens import sign_up

API = "/api/exchange/v1"
DAY_US = 86_400 * 1_000_000


async def _idle(*communities: Community) -> None:
    await run_until_idle(*(c.runtime for c in communities))


async def _listing(buyer: Community, seller: Community, member: Member, draft: Draft, *others):
    """``draft`` published by ``seller``'s member, as ``buyer``'s member (following the
    seller's community) receives it."""
    await actions.follow(buyer.runtime, member, seller.handle())
    await _idle(buyer, seller, *others)
    runtime = seller.runtime
    listing = await runtime.db.write(store.publish_listing, runtime, seller.member.actor_id, draft)
    await _idle(buyer, seller, *others)
    return listing


def _offer(title: str, kind: Kind, price_minor: int) -> Draft:
    return Draft(Purpose.OFFER, kind, title, "", "tools", price_minor)


async def _trade(c: Community, agreement_uri: str | None) -> Trade:
    trade = await c.runtime.db.read(find_trade_by_agreement, str(agreement_uri))
    assert trade is not None
    return trade


async def _agreed_and_delivered(a: Community, b: Community, proposed: Trade, *others):
    """Bob (B) accepts and delivers; the trade on B."""
    await _idle(a, b, *others)
    on_b = await _trade(b, proposed.agreement_uri)
    for step in ("accept", "deliver"):  # one at a time: deliveries may overtake each other
        await steps.take_step(b.runtime, b.member, on_b.id, step)
        await _idle(a, b, *others)
    return on_b


async def _confirmed(a: Community, b: Community, c: Community, draft: Draft, key: str):
    """Alice (A) proposes on bob's listing (B), bob accepts and delivers, alice confirms."""
    listing = await _listing(a, b, a.member, draft, c)
    proposed = await negotiation.propose_on_listing(a.runtime, a.member, listing.uri, key=key)
    on_b = await _agreed_and_delivered(a, b, proposed, c)
    await steps.take_step(a.runtime, a.member, proposed.id, "confirm")
    await _idle(a, b, c)
    return proposed, on_b


def _document(conn: Connection, uri: str) -> dict[str, Any]:
    a = tables.activities
    row = conn.execute(select(a.c.document).where(a.c.uri == uri)).scalar_one()
    return dict(orjson.loads(row))


def _inbox_error(conn: Connection, activity_uri: str) -> str | None:
    i = tables.inbox_items
    row = conn.execute(select(i.c.error).where(i.c.activity_uri == activity_uri)).first()
    assert row is not None, activity_uri
    return row.error  # type: ignore[no-any-return]


async def _clean(*communities: Community) -> None:
    for c in communities:
        assert await c.audit() == [], c.name


async def test_a_sale_is_paid_through_clearing_and_settles_on_both_servers(linked):
    """Alice (AAA) buys bob's 70 BBB bike through C: A pays the quoted AAA, B credits bob
    70 BBB, both records settle citing the transfer, and every audit is clean."""
    a, b, c = linked
    proposed, on_b = await _confirmed(a, b, c, _offer("Bike", Kind.SELL, 70), "bike")
    assert (proposed.currency_code, proposed.price_minor, proposed.outside) == ("BBB", 70, None)
    assert proposed.is_cleared and on_b.is_cleared and on_b.price_minor == 70
    offer = await a.runtime.db.read(_document, f"{proposed.agreement_uri}/offer")
    assert offer["object"]["stipulatesReciprocal"]["settledThrough"] == "clearing"

    paid = await steps.take_step(a.runtime, a.member, proposed.id, "pay")
    await _idle(a, b, c)
    on_a, on_b = await _trade(a, proposed.agreement_uri), await _trade(b, proposed.agreement_uri)
    assert paid.state is on_a.state is on_b.state is TradeState.SETTLED
    transfer_id = str(on_a.payment_id)
    assert on_b.payment_id == transfer_id and on_a.paid_minor == on_b.paid_minor == 70
    ours = await a.runtime.db.read(clearing.get_leg, transfer_id)
    theirs = await b.runtime.db.read(clearing.get_leg, transfer_id)
    assert ours.path == (a.domain, c.domain, b.domain)
    assert (await a.account("alice")).balance_minor == -ours.gross_minor < 0
    assert (await b.account("bob")).balance_minor == theirs.out_minor >= 70
    assert theirs.deliver_minor == 70
    assert await a.runtime.db.read(steps.find_receipt, str(proposed.agreement_uri)) is not None
    await _clean(a, b, c)

    again = await steps.take_step(a.runtime, a.member, proposed.id, "pay")  # changes nothing
    assert again.payment_id == transfer_id
    assert (await a.account("alice")).balance_minor == -ours.gross_minor


async def test_a_rental_is_quoted_and_paid_through_the_exchange_api(linked):
    """Dora (A) rents bob's tent (B) through the API: the trade shows what she owes, she
    pays a quote of it, the trade is paid, and settles on both sides once returned."""
    a, b, c = linked
    async with httpx.AsyncClient(base_url=a.instance.base_url, timeout=30) as http:
        dora = await sign_up(a.instance, http, "dora")
        listing = await _listing(a, b, dora.member, _offer("Tent", Kind.RENT, 5), c)
        due = "2099-01-01T00:00:00+00:00"
        body = {"listing_uri": listing.uri, "return_due_at": due}
        created = await http.post(f"{API}/trades", json=body, headers=dora.headers)
        assert created.status_code == 201, created.text
        trade_id = created.json()["id"]
        assert created.json()["settlement"] == "clearing"
        assert (created.json()["price"], created.json()["currency"]) == ("5", "BBB")
        proposed = await a.runtime.db.read(get_trade, trade_id)
        await _agreed_and_delivered(a, b, proposed, c)
        step = f"{API}/trades/{trade_id}"
        confirmed = await http.post(f"{step}/confirm", json={}, headers=dora.headers)
        owed = confirmed.json()["clearing"]
        assert owed == {"to": f"acct:bob@{b.domain}", "amount": "5", "currency": "BBB",
                        "payment_id": None, "payment_state": None}  # fmt: skip

        wrong = await payments.quote(a.runtime, dora.member, "bob", b.domain, "4", "BBB")
        refused = await http.post(
            f"{step}/pay", json={"quote_id": wrong.quote_id}, headers=dora.headers
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "quote_mismatch")
        wanted = {key: owed[key] for key in ("to", "amount", "currency")}
        quoted = await http.post(f"{API}/payments/quote", json=wanted, headers=dora.headers)
        assert quoted.status_code == 200, quoted.text
        quote = quoted.json()
        assert quote["send"]["currency"] == "AAA" and quote["path"][-1] == b.domain
        paid = await http.post(f"{step}/pay", json={"quote_id": quote["id"]},
                               headers=dora.headers)  # fmt: skip
        assert paid.status_code == 200, paid.text
        answer = paid.json()
        assert (answer["state"], answer["paid"], answer["currency"]) == ("paid", "5", "BBB")
        assert answer["clearing"]["payment_state"] == "committed"
        assert answer["clearing"]["payment_id"] == quote["id"]
        cost = await a.runtime.db.read(payments.find_quote, quote["id"])
        assert answer["payment_id"] == cost.transfer_id
        assert (await a.account("dora")).balance_minor == -cost.amount_minor
    await _idle(a, b, c)
    on_b = await _trade(b, proposed.agreement_uri)
    assert on_b.state is TradeState.PAID and on_b.payment_id == cost.transfer_id
    await steps.take_step(b.runtime, b.member, on_b.id, "return")
    await _idle(a, b, c)
    assert (await _trade(a, proposed.agreement_uri)).state is TradeState.SETTLED
    assert (await b.account("bob")).balance_minor >= 5
    await _clean(a, b, c)


async def _send_event(c: Community, member: Member, doc: dict[str, Any]) -> None:
    def write(conn: Connection) -> None:
        actor = publish.local_actor(conn, member.actor_id)
        publish.record_activity(conn, c.runtime, actor, doc, public=False)

    await c.runtime.db.write(write)


async def test_a_payment_event_without_a_committed_transfer_is_refused(linked):
    """A's server claims alice paid: with no transfer, an unknown one, or one paying bob
    less than the price, B refuses (payment_not_cleared) and its trade stays confirmed."""
    a, b, c = linked
    proposed, _ = await _confirmed(a, b, c, _offer("Lamp", Kind.SELL, 30), "lamp")
    small = await payments.quote(a.runtime, a.member, "bob", b.domain, "10", "BBB")
    assert (await payments.pay(a.runtime, a.member, small.quote_id, "gift")).state == "committed"
    forged = {"none": None, "unknown": f"{a.instance.base_url}/clearing/transfers/999",
              "too small": small.transfer_id}  # fmt: skip
    for name, transfer in forged.items():
        uri = f"{a.instance.base_url}/forged/{name.replace(' ', '-')}"
        await _send_event(a, a.member, render_event(
            uri, str(proposed.agreement_uri), "pay", a.member.uri, b.member.uri, None, now_us(),
            transfer,
        ))  # fmt: skip
    await _idle(a, b, c)
    for name in forged:
        uri = f"{a.instance.base_url}/forged/{name.replace(' ', '-')}/create"
        assert "PaymentNotCleared" in str(await b.runtime.db.read(_inbox_error, uri)), name
    after = await _trade(b, proposed.agreement_uri)
    assert (after.state, after.payment_id) == (TradeState.CONFIRMED, None)
    assert (await b.account("bob")).balance_minor == 10
    await _clean(a, b, c)


async def test_a_payment_in_flight_is_recorded_once_it_commits(linked):
    """With B down the trade's payment waits (the trade stays confirmed); once B is back
    and recovery commits it, the worker records the step and both servers settle."""
    a, b, c = linked
    proposed, _ = await _confirmed(a, b, c, _offer("Drill", Kind.SELL, 12), "drill")
    quote = await payments.quote(a.runtime, a.member, "bob", b.domain, "12", "BBB")
    await b.stop()
    waiting = await steps.take_step(a.runtime, a.member, proposed.id, "pay",
                                    quote_id=quote.quote_id)  # fmt: skip
    assert (waiting.state, waiting.payment_id) == (TradeState.CONFIRMED, None)
    await b.start()
    for x in (c, a):
        await recovery.resolve_stalled(x.runtime, now_us())
    await _idle(a, b, c)
    on_a, on_b = await _trade(a, proposed.agreement_uri), await _trade(b, proposed.agreement_uri)
    assert on_a.state is on_b.state is TradeState.SETTLED
    assert on_a.payment_id == on_b.payment_id == quote.transfer_id
    await _clean(a, b, c)


async def test_without_a_clearing_path_the_price_is_paid_outside_the_ledger(tmp_path: Path):
    """Between communities that are not linked, the price is noted as paid outside the
    ledger on both servers, the Offer says nothing of clearing, and no ledger moves."""
    async with (
        community("a", "alice", tmp_path) as a,
        community("d", "bob", tmp_path) as d,
    ):
        listing = await _listing(a, d, a.member, _offer("Saw", Kind.SELL, 12_50))
        proposed = await negotiation.propose_on_listing(a.runtime, a.member, listing.uri, key="s")
        on_d = await _agreed_and_delivered(a, d, proposed)
        for trade in (proposed, on_d):
            assert not trade.is_cleared and trade.price_minor == 0
            assert trade.outside is not None
            assert (trade.outside.currency, str(trade.outside.amount)) == ("DDD", "12.50")
        offer = await a.runtime.db.read(_document, f"{proposed.agreement_uri}/offer")
        assert "settledThrough" not in offer["object"]["stipulatesReciprocal"]
        await steps.take_step(a.runtime, a.member, proposed.id, "confirm")
        paid = await steps.take_step(a.runtime, a.member, proposed.id, "pay")
        await _idle(a, d)
        assert paid.state is (await _trade(d, proposed.agreement_uri)).state is TradeState.SETTLED
        assert paid.payment_id is None
        assert (await a.account("alice")).balance_minor == 0
        assert (await d.account("bob")).balance_minor == 0


def _hold_queued(conn: Connection) -> list[int]:
    """Hold back every queued delivery (as a slow network would); their ids."""
    d = tables.deliveries
    held = list(conn.execute(select(d.c.id).where(d.c.state == "queued")).scalars())
    conn.execute(update(d).where(d.c.id.in_(held)).values(next_attempt_at_us=2**62))
    return held


def _release(conn: Connection, held: list[int]) -> None:
    d = tables.deliveries
    conn.execute(update(d).where(d.c.id.in_(held)).values(next_attempt_at_us=0))


def _inbox_errors(conn: Connection) -> list[str]:
    i = tables.inbox_items
    query = select(i.c.error).where(i.c.error.is_not(None), i.c.processed_at_us.is_(None))
    return list(conn.execute(query).scalars())


@pytest.mark.parametrize("arrival", ["in one worker step", "in two worker steps"])
async def test_a_step_that_overtakes_the_one_before_it_waits_for_it(tmp_path: Path, arrival):
    """Alice's pay reaches bob's server before her confirm (deliveries overtake each
    other): it is applied once the confirm is in, at the end of the same worker step or
    soon after, and both servers settle."""
    async with (
        community("a", "alice", tmp_path) as a,
        community("d", "bob", tmp_path) as d,
    ):
        listing = await _listing(a, d, a.member, _offer("Saw", Kind.SELL, 12_50))
        proposed = await negotiation.propose_on_listing(a.runtime, a.member, listing.uri, key="s")
        await _agreed_and_delivered(a, d, proposed)
        await steps.take_step(a.runtime, a.member, proposed.id, "confirm")
        held = await a.runtime.db.write(_hold_queued)
        assert held  # the confirm, on its way
        await steps.take_step(a.runtime, a.member, proposed.id, "pay")
        assert await delivery.deliver_due(a.runtime) == 1  # the pay alone
        if arrival == "in two worker steps":
            await inbox.process_pending(d.runtime)
            assert (await _trade(d, proposed.agreement_uri)).state is TradeState.DELIVERED
            [error] = await d.runtime.db.read(_inbox_errors)
            assert error.startswith("OutOfOrder: ") and "pay is not possible now" in error
        await a.runtime.db.write(_release, held)
        assert await delivery.deliver_due(a.runtime) == len(held)
        await inbox.process_pending(d.runtime)
        if arrival == "in two worker steps":
            assert (await _trade(d, proposed.agreement_uri)).state is TradeState.CONFIRMED
            await asyncio.sleep(inbox.RETRY_SOON_US / 1e6 + 0.1)
            await inbox.process_pending(d.runtime)
        assert (await _trade(d, proposed.agreement_uri)).state is TradeState.SETTLED
        assert await d.runtime.db.read(_inbox_errors) == []
        await _idle(a, d)
        assert (await _trade(a, proposed.agreement_uri)).state is TradeState.SETTLED


async def test_a_payment_that_cannot_be_made_leaves_the_trade_unchanged(linked):
    """A price beyond the payer's credit limit is refused with a typed error; the trade
    stays confirmed on both servers and no ledger moves."""
    a, b, c = linked
    proposed, _ = await _confirmed(a, b, c, _offer("Boat", Kind.SELL, 900_000), "boat")
    with pytest.raises((AppError, LedgerError)) as refused:
        await steps.take_step(a.runtime, a.member, proposed.id, "pay")
    assert refused.value.code == "credit_limit_exceeded"
    await _idle(a, b, c)
    for x in (a, b):
        trade = await _trade(x, proposed.agreement_uri)
        assert (trade.state, trade.payment_id) == (TradeState.CONFIRMED, None)
    assert (await a.account("alice")).balance_minor == 0
    assert (await b.account("bob")).balance_minor == 0
    await _clean(a, b, c)
