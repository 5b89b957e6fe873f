"""A follower of the community alone receives members' posts through the Group."""

from __future__ import annotations

import httpx
from sqlalchemy import Connection, func, select

from fediverse_share import members, tables
from fediverse_share.federation import actions, posts
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance


def _announces(conn: Connection, actor_uri: str) -> int:
    i, a = tables.interactions, tables.actors
    return conn.execute(
        select(func.count())
        .select_from(i.join(a, a.c.id == i.c.actor_id))
        .where(i.c.type == "Announce", a.c.uri == actor_uri)
    ).scalar_one()


async def test_group_follower_gets_posts_by_announce_and_can_fetch_them(
    three: tuple[Instance, Instance, Instance],
) -> None:
    """C follows only A's community: posts arrive by Announce, edits and deletion too."""
    a, _, c = three
    alice = await members.add_member(a.runtime, "alice", None)
    carol = await members.add_member(c.runtime, "carol", None)
    await actions.follow(c.runtime, carol, f"@{a.runtime.instance.community_username}@{a.domain}")
    await run_until_idle(a.runtime, c.runtime)

    published = await actions.post(a.runtime, alice, "<p>Free apples by the door</p>")
    await run_until_idle(a.runtime, c.runtime)
    stored = await c.runtime.db.read(posts.find_post, published.uri)
    assert stored is not None and "apples" in stored["content"]
    assert await c.runtime.db.read(_announces, a.runtime.instance.community_uri) == 2

    async with httpx.AsyncClient() as client:
        as_json = await client.get(published.uri, headers={"Accept": "application/activity+json"})
        page = await client.get(published.uri, headers={"Accept": "text/html"})
    assert as_json.json()["id"] == published.uri
    assert as_json.json()["attributedTo"] == alice.uri
    assert "apples" in page.text and page.headers["content-type"].startswith("text/html")

    await actions.edit(a.runtime, alice, published.post_id, "<p>Free apples, and pears</p>")
    await run_until_idle(a.runtime, c.runtime)
    edited = await c.runtime.db.read(posts.find_post, published.uri)
    assert edited is not None and "pears" in edited["content"]

    await actions.delete(a.runtime, alice, published.post_id)
    await run_until_idle(a.runtime, c.runtime)
    deleted = await c.runtime.db.read(posts.find_post, published.uri)
    assert deleted is not None and deleted["deleted_at_us"] is not None
    async with httpx.AsyncClient() as client:
        gone = await client.get(published.uri, headers={"Accept": "application/activity+json"})
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
