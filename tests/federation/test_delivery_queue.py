"""The delivery queue survives restarts and never hands one job to two workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def counting_inboxes() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server that answers every POST 202; yields its origin and the paths
    it was sent to, one entry per request."""
    paths: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                request_line, *lines = head.decode("latin-1").split("\r\n")
                fields = (line.partition(":") for line in lines)
                length = next(int(v) for k, _, v in fields if k.lower() == "content-length")
                await reader.readexactly(length)
                paths.append(request_line.split(" ")[1])
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", paths


async def test_a_step_delivers_several_batches_and_two_workers_each_job_once(
    tmp_path: Path,
) -> None:
    """One step claims further batches as it delivers, and records every outcome;
    two workers' steps on one database together deliver every job exactly once."""
    jobs = 2 * delivery.CLAIM_BATCH + 50
    async with (
        counting_inboxes() as (origin, paths),
        prepared_instance("a", tmp_path, TEST_DATABASE_URL) as settings,
        standalone.runtime(settings) as one,
        standalone.runtime(settings) as two,
    ):
        member = await members.add_member(one, "alice", None)

        def queue(conn: Connection, activity: str) -> list[str]:
            inboxes = [f"{origin}/{activity}/{i}/inbox" for i in range(jobs)]
            delivery.enqueue(
                conn,
                one,
                activity_uri=f"{member.uri}/statuses/{activity}/create",
                signer_id=member.actor_id,
                body="{}",
                inboxes=inboxes,
                at_us=now_us(),
            )
            return inboxes

        first = await one.db.write(queue, "1")
        assert await delivery.deliver_due(one) == jobs  # three claims, one step
        assert sorted(paths) == sorted(inbox.removeprefix(origin) for inbox in first)
        assert await one.db.read(_rows) == 0

        paths.clear()
        second = await one.db.write(queue, "2")
        done = await asyncio.gather(delivery.deliver_due(one), delivery.deliver_due(two))
        assert sum(done) == jobs and max(done) > delivery.CLAIM_BATCH
        assert sorted(paths) == sorted(inbox.removeprefix(origin) for inbox in second)
        assert await one.db.read(_rows) == 0


def _rows(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(tables.deliveries)).scalar_one()
