"""Two real instances follow each other and exchange posts over signed HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, func, select

from fediverse_share import members, tables
from fediverse_share.federation import actions, posts, remote_actors
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance

AP = {"Accept": "application/activity+json"}


async def _collection_items(url: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        first = (await client.get(url, headers=AP)).json()["first"]
        page = (await client.get(first, headers=AP)).json()
    return [i if isinstance(i, str) else i["id"] for i in page["orderedItems"]]


def _received(conn: Connection, actor_uri: str, kind: str) -> list[dict[str, Any]]:
    """Activities of ``kind`` this instance's inbox took from ``actor_uri``, oldest first."""
    i = tables.inbox_items
    rows = conn.execute(select(i.c.body).where(i.c.actor_uri == actor_uri).order_by(i.c.id))
    return [doc for doc in map(orjson.loads, rows.scalars()) if doc["type"] == kind]


def _announces_by(conn: Connection, actor_uri: str) -> int:
    i, a = tables.interactions, tables.actors
    return conn.execute(
        select(func.count())
        .select_from(i.join(a, a.c.id == i.c.actor_id))
        .where(a.c.uri == actor_uri, i.c.type == "Announce")
    ).scalar_one()


async def test_follow_post_update_delete_and_unfollow(two: tuple[Instance, Instance]) -> None:
    """B follows A's community and member via WebFinger; posts, edits, deletes propagate."""
    a, b = two
    alice = await members.add_member(a.runtime, "alice", "secret-a")
    bob = await members.add_member(b.runtime, "bob", "secret-b")
    community = f"@{a.runtime.instance.community_username}@{a.domain}"

    await actions.follow(b.runtime, bob, community)
    await actions.follow(b.runtime, bob, f"@alice@{a.domain}")
    await run_until_idle(a.runtime, b.runtime)
    group_uri = a.runtime.instance.community_uri
    assert bob.uri in await _collection_items(f"{group_uri}/followers")
    assert bob.uri in await _collection_items(f"{alice.uri}/followers")
    assert group_uri in await _collection_items(f"{bob.uri}/following")

    published = await actions.post(a.runtime, alice, "<p>Lending a ladder this week</p>")
    await run_until_idle(a.runtime, b.runtime)
    stored = await b.runtime.db.read(posts.find_post, published.uri)
    assert stored is not None and "ladder" in stored["content"]
    assert await b.runtime.db.read(_announces_by, group_uri) == 2  # both Announce forms

    await actions.edit(a.runtime, alice, published.post_id, "<p>Lending a long ladder</p>")
    await run_until_idle(a.runtime, b.runtime)
    stored = await b.runtime.db.read(posts.find_post, published.uri)
    assert stored is not None and "long ladder" in stored["content"]

    await actions.update_profile(a.runtime, alice, name="Alice A.", summary="Has a ladder")
    await run_until_idle(a.runtime, b.runtime)
    cached = await b.runtime.db.read(remote_actors.find_actor, alice.uri)
    assert cached is not None and cached["name"] == "Alice A."
    profile = (await b.runtime.db.read(_received, alice.uri, "Update"))[-1]["object"]
    assert [field["name"] for field in profile["attachment"]] == ["Reputation"]

    await actions.delete(a.runtime, alice, published.post_id)
    await run_until_idle(a.runtime, b.runtime)
    stored = await b.runtime.db.read(posts.find_post, published.uri)
    assert stored is not None and stored["deleted_at_us"] is not None

    await actions.unfollow(b.runtime, bob, community)
    await run_until_idle(a.runtime, b.runtime)
    assert bob.uri not in await _collection_items(f"{group_uri}/followers")
