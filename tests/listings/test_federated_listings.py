"""Offers and needs across three real communities: publish, announce, search, match."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Connection, select

from fediverse_share import members, tables
from fediverse_share.clock import now_us
from fediverse_share.federation import actions
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.listings.search import SearchQuery, search
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance


def _draft(purpose: Purpose, title: str, **more: Any) -> Draft:
    values: dict[str, Any] = {
        "purpose": purpose,
        "kind": Kind.LEND,
        "title": title,
        "description": "",
        "category": "tools",
        "price_minor": None,
    }
    values.update(more)
    return Draft(**values)


def _titles(instance: Instance, query: SearchQuery) -> Any:
    def run(conn: Connection) -> list[str]:
        return [listing.title for listing, _ in search(conn, query, now_us())]

    return instance.runtime.db.read(run)


def _matches(conn: Connection, username: str) -> list[tuple[str, str]]:
    m, u, own, other = (
        tables.listing_matches,
        tables.users,
        tables.listings.alias("own"),
        tables.listings.alias("other"),
    )
    rows = conn.execute(
        select(own.c.title, other.c.title)
        .select_from(
            m.join(u, u.c.id == m.c.user_id)
            .join(own, own.c.id == m.c.own_listing_id)
            .join(other, other.c.id == m.c.matched_listing_id)
        )
        .where(u.c.username == username)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_listings_federate_are_searchable_and_matched(
    three: tuple[Instance, Instance, Instance],
) -> None:
    """A's offer and C's need reach B; B finds both; A's and C's members hear of the match."""
    a, b, c = three
    alice = await members.add_member(a.runtime, "alice", None)
    bob = await members.add_member(b.runtime, "bob", None)
    carol = await members.add_member(c.runtime, "carol", None)
    a_group = f"@{a.runtime.instance.community_username}@{a.domain}"
    c_group = f"@{c.runtime.instance.community_username}@{c.domain}"
    for runtime, member, group in (
        (b.runtime, bob, a_group),
        (b.runtime, bob, c_group),
        (a.runtime, alice, c_group),
        (c.runtime, carol, a_group),
    ):
        await actions.follow(runtime, member, group)
    await run_until_idle(a.runtime, b.runtime, c.runtime)

    offer = await a.runtime.db.write(
        store.publish_listing,
        a.runtime,
        alice.actor_id,
        _draft(Purpose.OFFER, "Long ladder to lend"),
    )
    await c.runtime.db.write(
        store.publish_listing,
        c.runtime,
        carol.actor_id,
        _draft(Purpose.REQUEST, "Need a ladder this weekend"),
    )
    await run_until_idle(a.runtime, b.runtime, c.runtime)

    assert sorted(await _titles(b, SearchQuery(text="ladder"))) == [
        "Long ladder to lend",
        "Need a ladder this weekend",
    ]
    assert await _titles(b, SearchQuery(text="ladd", purpose=Purpose.OFFER)) == [
        "Long ladder to lend"
    ]
    assert await _titles(
        b, SearchQuery(text="ladder", community_uri=c.runtime.instance.community_uri)
    ) == ["Need a ladder this weekend"]
    assert await a.runtime.db.read(_matches, "alice") == [
        ("Long ladder to lend", "Need a ladder this weekend")
    ]
    assert await c.runtime.db.read(_matches, "carol") == [
        ("Need a ladder this weekend", "Long ladder to lend")
    ]

    async with httpx.AsyncClient() as client:
        doc = (await client.get(offer.uri, headers={"Accept": "application/activity+json"})).json()
    assert doc["type"] == ["Note", "Proposal"] and doc["purpose"] == "offer"
    assert doc["content"].startswith("<p><strong>Offer: Long ladder to lend</strong></p>")
    assert "summary" not in doc

    await a.runtime.db.write(
        store.edit_listing,
        a.runtime,
        alice.actor_id,
        offer.id,
        _draft(Purpose.OFFER, "Long aluminium ladder to lend"),
    )
    await run_until_idle(a.runtime, b.runtime, c.runtime)
    assert "Long aluminium ladder to lend" in await _titles(b, SearchQuery(text="aluminium"))

    await a.runtime.db.write(store.withdraw_listing, a.runtime, alice.actor_id, offer.id)
    await run_until_idle(a.runtime, b.runtime, c.runtime)
    assert await _titles(b, SearchQuery(text="ladder")) == ["Need a ladder this weekend"]
