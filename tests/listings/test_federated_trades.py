"""Members of two real communities trade over ActivityPub (FEP-0837) and review each other."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, select

from exchange.reputation import get_reputation
from exchange.reviews import list_reviews_about
from exchange.trade_store import find_trade, find_trade_by_agreement, list_steps
from exchange.trade_terms import Party, Trade, TradeState
from fediverse_share import members, tables
from fediverse_share.clock import now_us
from fediverse_share.federation import actions, publish
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.members import Member
from fediverse_share.trades import negotiation, reviews, steps
from fediverse_share.trades.wire import render_agreement
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance
from tests.support.tokens import sign_up


def _draft(title: str, kind: Kind = Kind.GIVE) -> Draft:
    return Draft(Purpose.OFFER, kind, title, "", "tools", None)


async def _listing_seen_by_b(a: Instance, b: Instance, alice: Member, bob: Member, draft: Draft):
    group = f"@{a.runtime.instance.community_username}@{a.domain}"
    await actions.follow(b.runtime, bob, group)
    await run_until_idle(a.runtime, b.runtime)
    listing = await a.runtime.db.write(store.publish_listing, a.runtime, alice.actor_id, draft)
    await run_until_idle(a.runtime, b.runtime)
    return listing


async def _setup(two, draft: Draft):
    a, b = two
    alice = await members.add_member(a.runtime, "alice", None)
    bob = await members.add_member(b.runtime, "bob", None)
    listing = await _listing_seen_by_b(a, b, alice, bob, draft)
    return a, b, alice, bob, listing


async def _trade_on(instance: Instance, agreement_uri: str) -> Trade:
    trade = await instance.runtime.db.read(find_trade_by_agreement, agreement_uri)
    assert trade is not None
    return trade


def _agreement(instance: Instance, trade: Trade) -> Any:
    return instance.runtime.db.read(
        lambda conn: render_agreement(negotiation.terms_of(conn, trade))
    )


def _inbox_error(conn: Connection, activity_uri: str) -> str | None:
    i = tables.inbox_items
    row = conn.execute(select(i.c.error).where(i.c.activity_uri == activity_uri)).first()
    assert row is not None, activity_uri
    return row.error  # type: ignore[no-any-return]


async def _send(instance: Instance, member: Member, doc: dict[str, Any]) -> None:
    """Send a hand-made activity signed by ``member``'s server (a real delivery)."""

    def write(conn: Connection) -> None:
        actor = publish.local_actor(conn, member.actor_id)
        publish.record_activity(conn, instance.runtime, actor, doc, public=False)

    await instance.runtime.db.write(write)


def _sent(instance: Instance, uri: str) -> Any:
    def read(conn: Connection) -> dict[str, Any]:
        a = tables.activities
        row = conn.execute(select(a.c.document).where(a.c.uri == uri)).scalar_one()
        return dict(orjson.loads(row))

    return instance.runtime.db.read(read)


async def test_members_of_two_communities_agree_settle_and_review_a_gift(two) -> None:
    """Offer/Accept agree one trade on both servers; a gift settles, the receipt and both
    reviews arrive, each verified review counts; wrong parties, forgeries and replays
    change nothing."""
    a, b, alice, bob, listing = await _setup(two, _draft("Spare drill"))
    mallory_a = await members.add_member(a.runtime, "mallory", None)
    mallory_b = await members.add_member(b.runtime, "mallory", None)

    proposed = await negotiation.propose_on_listing(b.runtime, bob, listing.uri, key="drill")
    assert (
        await negotiation.propose_on_listing(b.runtime, bob, listing.uri, key="drill") == proposed
    )
    await run_until_idle(a.runtime, b.runtime)
    agreement = str(proposed.agreement_uri)
    on_a = await _trade_on(a, agreement)
    assert on_a.state is TradeState.PROPOSED and on_a.option.value == "gift"
    assert (on_a.provider, on_a.receiver) == (Party.local("alice"), Party.remote(bob.uri))
    assert (proposed.provider, proposed.receiver) == (Party.remote(alice.uri), Party.local("bob"))

    offer_uri = f"{agreement}/offer"
    offer = await _sent(b, offer_uri)
    assert offer["type"] == "Offer" and offer["to"] == [alice.uri]
    assert offer["object"]["stipulates"]["satisfies"] == f"{listing.uri}#primary"

    # Someone else than the listing's author accepts: refused, nothing moves.
    forged_accept = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Accept",
                     "id": f"{mallory_a.uri}#accepts/1", "actor": mallory_a.uri,
                     "to": [bob.uri], "object": offer_uri}  # fmt: skip
    await _send(a, mallory_a, forged_accept)
    # The Offer again under another activity id: the same trade, nothing new.
    await _send(b, bob, {**offer, "id": f"{offer_uri}/again"})
    await run_until_idle(a.runtime, b.runtime)
    assert "NotTheCounterparty" in str(await b.runtime.db.read(_inbox_error, forged_accept["id"]))
    assert await a.runtime.db.read(_inbox_error, f"{offer_uri}/again") is None
    assert (await _trade_on(b, agreement)).state is TradeState.PROPOSED
    assert await _trade_on(a, agreement) == on_a

    await steps.take_step(a.runtime, alice, on_a.id, "accept")
    await run_until_idle(a.runtime, b.runtime)
    on_a, on_b = await _trade_on(a, agreement), await _trade_on(b, agreement)
    assert on_a.state is on_b.state is TradeState.AGREED
    assert await _agreement(a, on_a) == await _agreement(b, on_b)
    accept = await _sent(a, f"{a.base_url}/trades/{on_a.id.replace(':', '%3A')}/accept")
    assert accept["object"] == offer_uri and accept["result"]["attributedTo"] == alice.uri
    assert accept["result"]["id"] == agreement

    await _send(a, alice, {**accept, "id": f"{accept['id']}/again"})  # a replayed Accept
    await steps.take_step(a.runtime, alice, on_a.id, "deliver")
    await run_until_idle(a.runtime, b.runtime)
    assert (await _trade_on(b, agreement)).state is TradeState.DELIVERED
    steps_on_b = len(await b.runtime.db.read(list_steps, on_b.id))
    await steps.take_step(b.runtime, bob, on_b.id, "confirm")
    await run_until_idle(a.runtime, b.runtime)
    on_a, on_b = await _trade_on(a, agreement), await _trade_on(b, agreement)
    assert on_a.state is on_b.state is TradeState.SETTLED
    assert len(await b.runtime.db.read(list_steps, on_b.id)) == steps_on_b + 2  # confirm, settle
    receipt = await b.runtime.db.read(steps.find_receipt, agreement)
    assert receipt is not None
    assert receipt["object"]["name"] == "Receipt" and receipt["object"]["context"] == agreement

    await reviews.review_trade(b.runtime, bob, on_b.id, 5, "Great drill, thanks!")
    await run_until_idle(a.runtime, b.runtime)
    assert await a.runtime.db.read(list_reviews_about, "alice", now_us()) == []  # blind
    await reviews.review_trade(a.runtime, alice, on_a.id, 4, "Bob picked it up on time.")
    await run_until_idle(a.runtime, b.runtime)

    about_alice = await a.runtime.db.read(get_reputation, "alice", now_us())
    about_bob = await b.runtime.db.read(get_reputation, "bob", now_us())
    assert [(r.reviewer, r.rating, r.verified) for r in about_alice.reviews] == [
        (Party.remote(bob.uri), 5, True)
    ]
    assert [(r.reviewer, r.rating, r.verified) for r in about_bob.reviews] == [
        (Party.remote(alice.uri), 4, True)
    ]
    score = about_alice.score

    # Forgeries: a review by someone who is not a party, one of an unknown trade.
    review_uri = f"{b.base_url}/trades/{on_b.id.replace(':', '%3A')}/reviews/receiver"
    bob_review = await _sent(b, f"{review_uri}/create")
    forged = {**bob_review, "id": f"{mallory_b.uri}/forged", "actor": mallory_b.uri,
              "object": {**bob_review["object"], "id": f"{mallory_b.uri}/review",
                         "attributedTo": mallory_b.uri, "rating": 1}}  # fmt: skip
    unknown = {**bob_review, "id": f"{bob.uri}/unknown",
               "object": {**bob_review["object"], "id": f"{bob.uri}/review2",
                          "context": f"{bob.uri}/agreements/nothing", "rating": 1}}  # fmt: skip
    await _send(b, mallory_b, forged)
    await _send(b, bob, unknown)
    await _send(b, bob, {**bob_review, "id": f"{review_uri}/again"})  # a replayed review
    await run_until_idle(a.runtime, b.runtime)
    assert "NotTheCounterparty" in str(await a.runtime.db.read(_inbox_error, forged["id"]))
    assert "UnknownAgreement" in str(await a.runtime.db.read(_inbox_error, unknown["id"]))
    assert await a.runtime.db.read(_inbox_error, f"{review_uri}/again") is None
    assert (await a.runtime.db.read(get_reputation, "alice", now_us())).score == score
    assert await _trade_on(a, agreement) == on_a


async def test_the_author_rejects_an_offer(two) -> None:
    """Reject{object: <Offer>, content} declines the trade on both servers, with the reason."""
    a, b, alice, bob, listing = await _setup(two, _draft("Old bicycle"))
    proposed = await negotiation.propose_on_listing(b.runtime, bob, listing.uri, key="bike")
    await run_until_idle(a.runtime, b.runtime)
    on_a = await _trade_on(a, str(proposed.agreement_uri))
    await steps.take_step(a.runtime, alice, on_a.id, "decline", reason="Already promised")
    await run_until_idle(a.runtime, b.runtime)
    on_b = await b.runtime.db.read(find_trade, proposed.id)
    assert on_b is not None and on_b.state is TradeState.DECLINED
    assert on_b.reason == "Already promised"
    assert (await _trade_on(a, str(proposed.agreement_uri))).state is TradeState.DECLINED


async def test_a_swap_settles_on_both_servers_through_the_exchange_api(two) -> None:
    """In a swap each side delivers and confirms (A's member through the exchange API);
    both records settle, B gets the receipt, and reviews sent through the API count."""
    a, b = two
    async with httpx.AsyncClient(base_url=a.base_url) as http:
        alice = await sign_up(a, http, "alice")
        bob = await members.add_member(b.runtime, "bob", None)
        listing = await _listing_seen_by_b(
            a, b, alice.member, bob, _draft("Board games", Kind.SWAP)
        )
        proposed = await negotiation.propose_on_listing(b.runtime, bob, listing.uri, key="games")
        await run_until_idle(a.runtime, b.runtime)
        agreement = str(proposed.agreement_uri)
        on_a = await _trade_on(a, agreement)
        assert on_a.option.value == "swap"
        api = f"/api/exchange/v1/trades/{on_a.id}"
        response = await http.post(f"{api}/accept", json={}, headers=alice.headers)
        assert response.status_code == 200, response.text
        for step in ("deliver", "confirm"):
            await run_until_idle(a.runtime, b.runtime)
            response = await http.post(f"{api}/{step}", json={}, headers=alice.headers)
            assert response.status_code == 200, response.text
            await steps.take_step(b.runtime, bob, proposed.id, step)
        await run_until_idle(a.runtime, b.runtime)
        assert (await _trade_on(a, agreement)).state is TradeState.SETTLED
        assert (await _trade_on(b, agreement)).state is TradeState.SETTLED
        assert await b.runtime.db.read(steps.find_receipt, agreement) is not None

        review = {"rating": 4, "text": "Fair swap"}
        response = await http.post(f"{api}/review", json=review, headers=alice.headers)
        assert response.status_code == 201, response.text
        await reviews.review_trade(b.runtime, bob, proposed.id, 5, "Lovely games")
        await run_until_idle(a.runtime, b.runtime)
    about_bob = await b.runtime.db.read(get_reputation, "bob", now_us())
    about_alice = await a.runtime.db.read(get_reputation, "alice", now_us())
    assert [(r.rating, r.verified) for r in about_bob.reviews] == [(4, True)]
    assert [(r.rating, r.verified) for r in about_alice.reviews] == [(5, True)]
