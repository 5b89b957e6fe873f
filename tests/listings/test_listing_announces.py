"""A follower of a community alone receives its members' listings through the Group."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import Connection, select

from fediverse_share import members, tables
from fediverse_share.clock import now_us
from fediverse_share.federation import actions
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance

SECOND_US = 1_000_000
DAY_SECONDS = 86_400


def _received(conn: Connection, actor_uri: str) -> list[dict[str, Any]]:
    """Activities this instance's inbox took from ``actor_uri``, oldest first."""
    i = tables.inbox_items
    rows = conn.execute(select(i.c.body).where(i.c.actor_uri == actor_uri).order_by(i.c.id))
    return [orjson.loads(body) for body in rows.scalars()]


def _listing(conn: Connection, uri: str) -> dict[str, Any]:
    l = tables.listings  # noqa: E741
    return dict(conn.execute(select(l).where(l.c.uri == uri)).mappings().one())


def _draft(title: str) -> Draft:
    expires_at_us = (now_us() // SECOND_US + 7 * DAY_SECONDS) * SECOND_US
    draft = Draft(Purpose.OFFER, Kind.GIVE, title, "Ripe, from our tree.", "food", None)
    return replace(draft, expires_at_us=expires_at_us)


async def test_group_follower_gets_a_listing_by_both_announce_forms(
    two: tuple[Instance, Instance],
) -> None:
    """C's Person follows only A's Group: Announce(Create(listing)) and Announce(listing)."""
    a, c = two
    alice = await members.add_member(a.runtime, "alice", None)
    carol = await members.add_member(c.runtime, "carol", None)
    group = a.runtime.instance.community_uri
    await actions.follow(c.runtime, carol, f"@{a.runtime.instance.community_username}@{a.domain}")
    await run_until_idle(a.runtime, c.runtime)

    listing = await a.runtime.db.write(
        store.publish_listing, a.runtime, alice.actor_id, _draft("Free apples")
    )
    await run_until_idle(a.runtime, c.runtime)

    announces = [x for x in await c.runtime.db.read(_received, group) if x["type"] == "Announce"]
    by_form = {isinstance(x["object"], dict): x["object"] for x in announces}
    assert len(announces) == 2 and by_form.keys() == {True, False}
    create = by_form[True]
    assert (create["type"], create["actor"]) == ("Create", alice.uri)
    assert create["object"]["id"] == listing.uri
    assert create["object"]["type"] == ["Note", "Proposal"]
    assert by_form[False] == listing.uri
    assert await c.runtime.db.read(_received, alice.uri) == []  # only through the Group

    kept = await c.runtime.db.read(_listing, listing.uri)
    assert (kept["title"], kept["local"], kept["community_uri"]) == ("Free apples", False, group)
    assert kept["expires_at_us"] == listing.expires_at_us  # from the Note's endTime

    edited = _draft("Free apples and pears")
    await a.runtime.db.write(store.edit_listing, a.runtime, alice.actor_id, listing.id, edited)
    await run_until_idle(a.runtime, c.runtime)
    assert (await c.runtime.db.read(_listing, listing.uri))["title"] == "Free apples and pears"

    await a.runtime.db.write(store.withdraw_listing, a.runtime, alice.actor_id, listing.id)
    await run_until_idle(a.runtime, c.runtime)
    assert (await c.runtime.db.read(_listing, listing.uri))["withdrawn_at_us"] is not None
