"""The delivery queue survives restarts and never hands one job to two workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Connection, func, select

from fediverse_share import members, standalone, tables
from fediverse_share.clock import now_us
from fediverse_share.federation import actions, delivery, posts
from fediverse_share.worker import run_until_idle
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import prepared_instance, serving


def _queued(conn: Connection) -> int:
    d = tables.deliveries
    return conn.execute(
        select(func.count()).select_from(d).where(d.c.state == "queued")
    ).scalar_one()


async def test_restart_with_queued_deliveries_loses_none(tmp_path: Path) -> None:
    """Posts queued while A stops are delivered after A starts again."""
    async with (
        prepared_instance("a", tmp_path, TEST_DATABASE_URL) as settings_a,
        prepared_instance("b", tmp_path, TEST_DATABASE_URL) as settings_b,
        serving("b", settings_b) as b,
    ):
        async with serving("a", settings_a) as a:
            alice = await members.add_member(a.runtime, "alice", None)
            bob = await members.add_member(b.runtime, "bob", None)
            await actions.follow(b.runtime, bob, f"@alice@{a.domain}")
            await run_until_idle(a.runtime, b.runtime)
            published = [await actions.post(a.runtime, alice, f"<p>post {i}</p>") for i in range(3)]
            assert await a.runtime.db.read(_queued) == 3
        async with serving("a", settings_a) as restarted:
            assert await restarted.runtime.db.read(_queued) == 3
            await run_until_idle(restarted.runtime, b.runtime)
            assert await restarted.runtime.db.read(_queued) == 0
        for item in published:
            assert await b.runtime.db.read(posts.find_post, item.uri) is not None


async def test_two_workers_never_claim_the_same_job(tmp_path: Path) -> None:
    """Concurrent claims from two runtimes on one database get disjoint jobs."""
    async with (
        prepared_instance("a", tmp_path, TEST_DATABASE_URL) as settings,
        standalone.runtime(settings) as one,
        standalone.runtime(settings) as two,
    ):
        member = await members.add_member(one, "alice", None)

        def queue(conn: Connection) -> None:
            inboxes = [f"https://peer{i}.example/inbox" for i in range(300)]
            delivery.enqueue(
                conn,
                one,
                activity_uri=f"{member.uri}/statuses/1/create",
                signer_id=member.actor_id,
                body="{}",
                inboxes=inboxes,
                at_us=now_us(),
            )

        await one.db.write(queue)
        at = now_us()
        claims = await asyncio.gather(
            *(rt.db.write(delivery.claim_due, at, 60) for rt in (one, two, one, two, one))
        )
        ids = [job.id for claim in claims for job in claim]
        assert len(ids) == len(set(ids)) == 300
