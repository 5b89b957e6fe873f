"""An inbound Block ends the follows between the blocker and the blocked, both ways."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Connection, select

from fediverse_share import members, tables
from fediverse_share.federation import actions, publish
from fediverse_share.federation.render import AS_CONTEXT
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance

AP = {"Accept": "application/activity+json"}


async def _items(collection_url: str) -> list[str]:
    """The ids on the first page of one of A's collections, over HTTP."""
    async with httpx.AsyncClient() as client:
        first = (await client.get(collection_url, headers=AP)).json()["first"]
        page = (await client.get(first, headers=AP)).json()
    return list(page["orderedItems"])


def _interactions(conn: Connection, kind: str) -> list[tuple[str, str]]:
    """(actor uri, object uri) of the interactions of ``kind`` this instance recorded."""
    i, a = tables.interactions, tables.actors
    rows = conn.execute(
        select(a.c.uri, i.c.object_uri).join(a, a.c.id == i.c.actor_id).where(i.c.type == kind)
    )
    return [(row[0], row[1]) for row in rows]


async def _send_block(runtime: Runtime, blocker: Member, blocked_uri: str) -> None:
    """Queue ``blocker``'s Block on their own instance, which signs and delivers it."""
    block: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": f"{blocker.uri}#blocks/1",
        "type": "Block",
        "actor": blocker.uri,
        "object": blocked_uri,
        "to": [blocked_uri],
    }

    def queue(conn: Connection) -> None:
        actor = publish.local_actor(conn, blocker.actor_id)
        publish.record_activity(conn, runtime, actor, block, public=False)

    await runtime.db.write(queue)


async def test_a_signed_block_ends_follows_both_ways(two: tuple[Instance, Instance]) -> None:
    """Bob on B blocks Alice on A: A drops bob→alice and alice→bob, and keeps cy→alice."""
    a, b = two
    alice = await members.add_member(a.runtime, "alice", None)
    bob = await members.add_member(b.runtime, "bob", None)
    cy = await members.add_member(b.runtime, "cy", None)
    await actions.follow(b.runtime, bob, f"@alice@{a.domain}")
    await actions.follow(b.runtime, cy, f"@alice@{a.domain}")
    await actions.follow(a.runtime, alice, f"@bob@{b.domain}")
    await run_until_idle(a.runtime, b.runtime)
    assert sorted(await _items(f"{alice.uri}/followers")) == sorted([bob.uri, cy.uri])
    assert await _items(f"{alice.uri}/following") == [bob.uri]

    await _send_block(b.runtime, bob, alice.uri)
    await run_until_idle(a.runtime, b.runtime)
    assert await a.runtime.db.read(_interactions, "Block") == [(bob.uri, alice.uri)]
    assert await _items(f"{alice.uri}/followers") == [cy.uri]
    assert await _items(f"{alice.uri}/following") == []
