"""A priced need answered from another community is paid through clearing: its author
(the payer) sends the price from their own currency with a fixed-send quote, the
member who answered receives its conversion, both servers settle the trade citing the
transfer; a transfer that pays less, or paid another trade, is refused on both sides
and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from exchange import clearing, trades
from exchange.errors import PaymentNotCleared
from exchange.trade_store import get_trade
from exchange.trade_terms import Trade, TradeState
from fediverse_share.clearing import payments
from fediverse_share.clock import now_us
from fediverse_share.federation import actions
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.members import Member
from fediverse_share.trades import negotiation, steps
from fediverse_share.trades.wire import render_event
from fediverse_share.worker import run_until_idle
from tests.clearing.conftest import Community
from tests.clearing.test_trades import _clean, _document, _inbox_error, _send_event, _trade
from tests.support.tokens import sign_up

API = "/api/exchange/v1"


async def _idle(*communities: Community) -> None:
    await run_until_idle(*(c.runtime for c in communities))


def _need(title: str, price_minor: int) -> Draft:
    return Draft(Purpose.REQUEST, Kind.SERVICE, title, "", "tools", price_minor)


async def _answered(
    helper: Community, author: Community, member: Member, draft: Draft, key: str, *others
) -> tuple[Trade, Trade]:
    """``member`` of ``author`` publishes the need, ``helper``'s member (following that
    community) proposes to meet it, the author accepts and the helper delivers: the
    trade as ``helper`` and as ``author`` record it."""
    every = (helper, author, *others)
    await actions.follow(helper.runtime, helper.member, author.handle())
    await _idle(*every)
    listing = await author.runtime.db.write(
        store.publish_listing, author.runtime, member.actor_id, draft
    )
    await _idle(*every)
    proposed = await negotiation.propose_on_listing(
        helper.runtime, helper.member, listing.uri, key=key
    )
    await _idle(*every)
    theirs = await _trade(author, proposed.agreement_uri)
    await steps.take_step(author.runtime, member, theirs.id, "accept")
    await _idle(*every)
    await steps.take_step(helper.runtime, helper.member, proposed.id, "deliver")
    await _idle(*every)
    return proposed, theirs


async def _confirmed(helper, author, draft, key, *others) -> tuple[Trade, Trade]:
    proposed, theirs = await _answered(helper, author, author.member, draft, key, *others)
    await steps.take_step(author.runtime, author.member, theirs.id, "confirm")
    await _idle(helper, author, *others)
    return proposed, theirs


async def test_a_need_is_paid_by_its_author_sending_the_price_to_a_direct_peer(linked):
    """Carol (C) needs a repair for 5.000 CCC; alice (A) does it; carol pays: C debits
    her exactly 5.000 CCC, alice receives its conversion (2.50 AAA), both servers settle
    citing the transfer, and every audit is clean."""
    a, b, c = linked
    proposed, on_c = await _confirmed(a, c, _need("Repair", 5_000), "repair", b)
    assert (proposed.currency_code, proposed.price_minor) == ("CCC", 5_000)
    assert proposed.is_cleared and proposed.price_is_sent and on_c.price_is_sent
    offer = await a.runtime.db.read(_document, f"{proposed.agreement_uri}/offer")
    assert offer["object"]["stipulatesReciprocal"]["settledThrough"] == "clearing"

    paid = await steps.take_step(c.runtime, c.member, on_c.id, "pay")
    await _idle(a, b, c)
    on_a, on_c = await _trade(a, proposed.agreement_uri), await _trade(c, proposed.agreement_uri)
    assert paid.state is on_a.state is on_c.state is TradeState.SETTLED
    transfer_id = str(on_c.payment_id)
    assert on_a.payment_id == transfer_id and on_a.paid_minor == on_c.paid_minor == 5_000
    ours = await c.runtime.db.read(clearing.get_leg, transfer_id)
    theirs = await a.runtime.db.read(clearing.get_leg, transfer_id)
    assert ours.path == (c.domain, a.domain) and ours.gross_minor == 5_000
    assert theirs.amount_in_minor == 5_000 and theirs.out_minor == theirs.deliver_minor == 2_50
    assert (await c.account("carol")).balance_minor == -5_000
    assert (await a.account("alice")).balance_minor == 2_50
    await _clean(a, b, c)


async def test_a_need_is_quoted_and_paid_through_the_exchange_api_via_a_community_between(
    linked,
):
    """Erin (B) needs a lesson for 70 BBB; alice (A) gives it; through the API the trade
    shows 70 BBB owed (erin's own currency), the quote of those sends 70 BBB and
    delivers what C's and A's rates make of it, and paying it settles both servers."""
    a, b, c = linked
    async with httpx.AsyncClient(base_url=b.instance.base_url, timeout=30) as http:
        erin = await sign_up(b.instance, http, "erin")
        proposed, on_b = await _answered(a, b, erin.member, _need("Lesson", 70), "lesson", c)
        step = f"{API}/trades/{on_b.id}"
        confirmed = await http.post(f"{step}/confirm", json={}, headers=erin.headers)
        await _idle(a, b, c)  # the pay step's event must not overtake the confirm's
        owed = confirmed.json()["clearing"]
        assert owed == {"to": f"acct:alice@{a.domain}", "amount": "70", "currency": "BBB",
                        "payment_id": None, "payment_state": None}  # fmt: skip
        wanted = {key: owed[key] for key in ("to", "amount", "currency")}
        quoted = await http.post(f"{API}/payments/quote", json=wanted, headers=erin.headers)
        assert quoted.status_code == 200, quoted.text
        quote = quoted.json()
        assert quote["send"] == {"amount": "70", "currency": "BBB"}
        assert quote["path"] == [b.domain, c.domain, a.domain]
        # 70 BBB x 2/3 = 46.667 CCC (rounded half-even), x 1/2 = 23.3335 -> 23.33 AAA
        assert quote["receive"] == {"amount": "23.33", "currency": "AAA"}
        paid = await http.post(f"{step}/pay", json={"quote_id": quote["id"]},
                               headers=erin.headers)  # fmt: skip
        assert paid.status_code == 200, paid.text
        assert (paid.json()["state"], paid.json()["paid"]) == ("settled", "70")
        assert paid.json()["clearing"]["payment_state"] == "committed"
    await _idle(a, b, c)
    on_a = await _trade(a, proposed.agreement_uri)
    assert on_a.state is TradeState.SETTLED and on_a.payment_id == paid.json()["payment_id"]
    assert (await b.account("erin")).balance_minor == -70
    assert (await a.account("alice")).balance_minor == 23_33
    await _clean(a, b, c)


async def test_a_quote_that_sends_less_than_the_price_is_refused(linked):
    """Paying the need's trade with a quote that sends 4.999 of its 5.000 CCC is a
    quote_mismatch; nothing moves and the trade stays confirmed."""
    a, b, c = linked
    _, on_c = await _confirmed(a, c, _need("Paint", 5_000), "paint", b)
    short = await payments.quote(c.runtime, c.member, "alice", a.domain, "4.999", "CCC")
    with pytest.raises(Exception) as refused:
        await steps.take_step(c.runtime, c.member, on_c.id, "pay", quote_id=short.quote_id)
    assert getattr(refused.value, "code", None) == "quote_mismatch"
    assert (await _trade(c, on_c.agreement_uri)).state is TradeState.CONFIRMED
    assert (await c.account("carol")).balance_minor == 0
    await _clean(a, b, c)


async def _claim(c: Community, member: Member, trade: Trade, to: Member, transfer, name: str):
    """``member`` of ``c`` sends the pay step of ``trade`` citing ``transfer``."""
    uri = f"{c.instance.base_url}/forged/{name}"
    await _send_event(c, member, render_event(
        uri, str(trade.agreement_uri), "pay", member.uri, to.uri, None, now_us(), transfer,
    ))  # fmt: skip
    return f"{uri}/create"


async def test_a_transfer_that_pays_less_or_another_trade_is_refused_on_both_sides(linked):
    """Carol's first need is paid; for her second, a transfer sending alice less than
    its price, or the first trade's transfer, is refused by A (payment_not_cleared) and
    by C's own ledger: the trade stays confirmed on both, and no ledger moves."""
    a, b, c = linked
    first, _ = await _confirmed(a, c, _need("Fence", 3_000), "fence", b)
    second, on_c = await _confirmed(a, c, _need("Gate", 4_000), "gate", b)
    first_on_c = await _trade(c, first.agreement_uri)
    await steps.take_step(c.runtime, c.member, first_on_c.id, "pay")
    await _idle(a, b, c)
    paid_first = str((await _trade(c, first.agreement_uri)).payment_id)
    small = await payments.quote(c.runtime, c.member, "alice", a.domain, "3.999", "CCC")
    assert (await payments.pay(c.runtime, c.member, small.quote_id, "k")).state == "committed"
    balances = [await x.account(m) for x, m in ((a, "alice"), (c, "carol"))]

    claims = {"less": small.transfer_id, "reused": paid_first}
    sent = {name: await _claim(c, c.member, on_c, a.member, t, name) for name, t in claims.items()}
    await _idle(a, b, c)
    for name, uri in sent.items():
        assert "PaymentNotCleared" in str(await a.runtime.db.read(_inbox_error, uri)), name
    for transfer in claims.values():
        with pytest.raises(PaymentNotCleared):
            await c.runtime.db.write(
                trades.pay, on_c.id, "carol", now_us(), clearing_transfer_id=transfer
            )
    for x in (a, c):
        trade = await _trade(x, second.agreement_uri)
        assert (trade.state, trade.payment_id) == (TradeState.CONFIRMED, None)
    assert [await x.account(m) for x, m in ((a, "alice"), (c, "carol"))] == balances
    assert (await c.runtime.db.read(get_trade, on_c.id)).paid_minor is None
    await _clean(a, b, c)
