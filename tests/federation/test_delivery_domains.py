"""Delivery per server: one job per shared inbox."""

from __future__ import annotations

from sqlalchemy import Connection, select

from fediverse_share import members, tables
from fediverse_share.federation import actions, posts
from fediverse_share.mastodon.tables import home_feed
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance


def _jobs(conn: Connection, activity_uri: str) -> list[str]:
    """The inboxes queued for one activity."""
    d = tables.deliveries
    return sorted(conn.execute(select(d.c.inbox).where(d.c.activity_uri == activity_uri)).scalars())


def _feeds_with(conn: Connection, post_uri: str) -> set[int]:
    """The local users whose home feed shows the post."""
    post = posts.find_post(conn, post_uri)
    assert post is not None
    rows = conn.execute(select(home_feed.c.user_id).where(home_feed.c.post_id == post["id"]))
    return set(rows.scalars())


def _inbox_items(conn: Connection, activity_uri: str) -> int:
    i = tables.inbox_items
    return len(conn.execute(select(i.c.id).where(i.c.activity_uri == activity_uri)).all())


async def test_followers_on_one_server_make_one_job_for_its_shared_inbox(
    two: tuple[Instance, Instance],
) -> None:
    """A post to three followers on B is one delivery, to B's shared inbox, seen by all three."""
    a, b = two
    alice = await members.add_member(a.runtime, "alice", None)
    followers = [await members.add_member(b.runtime, name, None) for name in ("bob", "cy", "di")]
    for follower in followers:
        await actions.follow(b.runtime, follower, f"@alice@{a.domain}")
    await run_until_idle(a.runtime, b.runtime)

    published = await actions.post(a.runtime, alice, "<p>Soup on Sunday</p>")
    assert await a.runtime.db.read(_jobs, published.activity_uri) == [f"{b.base_url}/inbox"]
    await run_until_idle(a.runtime, b.runtime)
    assert await b.runtime.db.read(_inbox_items, published.activity_uri) == 1
    reached = await b.runtime.db.read(_feeds_with, published.uri)
    assert {f.user_id for f in followers} <= reached
