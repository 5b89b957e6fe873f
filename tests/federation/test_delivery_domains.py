"""Delivery per server: one job per shared inbox, and servers that keep failing skipped."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, RowMapping, select

from activitypub.delivery import DeliveryResult, Outcome
from fediverse_share import members, tables
from fediverse_share.clock import now_us
from fediverse_share.federation import actions, delivery, posts
from fediverse_share.mastodon.tables import home_feed
from fediverse_share.worker import run_until_idle
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, prepared_instance, serving

DAY_US = 86_400 * 1_000_000


def _jobs(conn: Connection, activity_uri: str) -> list[str]:
    """The inboxes queued for one activity."""
    d = tables.deliveries
    return sorted(conn.execute(select(d.c.inbox).where(d.c.activity_uri == activity_uri)).scalars())


def _domain(conn: Connection, domain: str) -> RowMapping | None:
    d = tables.domains
    return conn.execute(select(d).where(d.c.domain == domain)).mappings().first()


def _last_error(conn: Connection, activity_uri: str) -> str:
    d = tables.deliveries
    query = select(d.c.last_error).where(d.c.activity_uri == activity_uri)
    return str(conn.execute(query).scalar_one())


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


async def _fail_on_day(a: Instance, day: int, error: str) -> None:
    """The worker's claim and failure record for B's jobs, on the clock ``day`` days on."""
    at = now_us() + day * DAY_US

    def claim_and_fail(conn: Connection) -> None:
        jobs = delivery.claim_due(conn, at)
        assert jobs, f"nothing due on day {day}"
        failed = DeliveryResult(Outcome.RETRY, error=error)
        delivery.record_outcomes(conn, [(job, failed) for job in jobs], at)

    await a.runtime.db.write(claim_and_fail)


async def test_a_server_failing_seven_days_is_skipped_until_it_posts_to_us(tmp_path: Path) -> None:
    """B down on 7 distinct days gets no new jobs; its next signed POST makes it reachable."""
    async with (
        prepared_instance("a", tmp_path, TEST_DATABASE_URL) as settings_a,
        prepared_instance("b", tmp_path, TEST_DATABASE_URL) as settings_b,
        prepared_instance("c", tmp_path, TEST_DATABASE_URL) as settings_c,
        serving("a", settings_a) as a,
        serving("c", settings_c) as c,
    ):
        alice = await members.add_member(a.runtime, "alice", None)
        async with serving("b", settings_b) as b:
            bob = await members.add_member(b.runtime, "bob", None)
            await actions.follow(b.runtime, bob, f"@alice@{a.domain}")
            await run_until_idle(a.runtime, b.runtime)
        # B is stopped: its port refuses connections.

        first = await actions.post(a.runtime, alice, "<p>day 0</p>")
        assert await delivery.deliver_due(a.runtime) == 1  # the real worker step, today
        row = await a.runtime.db.read(_domain, b.domain)
        assert row is not None and (row["failure_days"], row["unavailable"]) == (1, False)
        error = await a.runtime.db.read(_last_error, first.activity_uri)
        assert error.startswith("network error")
        await actions.post(a.runtime, alice, "<p>day 0, later</p>")
        assert await delivery.deliver_due(a.runtime) == 1  # fails too: still one day
        row = await a.runtime.db.read(_domain, b.domain)
        assert row is not None and row["failure_days"] == 1

        for day in range(1, 7):
            await actions.post(a.runtime, alice, f"<p>day {day}</p>")
            await _fail_on_day(a, day, error)
            row = await a.runtime.db.read(_domain, b.domain)
            assert row is not None
            assert (row["failure_days"], row["unavailable"]) == (day + 1, day + 1 >= 7)

        carol = await members.add_member(c.runtime, "carol", None)
        await actions.follow(c.runtime, carol, f"@alice@{a.domain}")
        await run_until_idle(a.runtime, c.runtime)
        skipped = await actions.post(a.runtime, alice, "<p>B is skipped</p>")
        assert await a.runtime.db.read(_jobs, skipped.activity_uri) == [f"{c.base_url}/inbox"]

        async with serving("b", settings_b) as b:
            community = f"@{a.runtime.instance.community_username}@{a.domain}"
            await actions.follow(b.runtime, bob, community)  # B's signed Follow reaches A
            await run_until_idle(b.runtime)
            row = await a.runtime.db.read(_domain, b.domain)
            assert row is not None and (row["failure_days"], row["unavailable"]) == (0, False)

            back = await actions.post(a.runtime, alice, "<p>B is back</p>")
            jobs = await a.runtime.db.read(_jobs, back.activity_uri)
            assert jobs == sorted([f"{b.base_url}/inbox", f"{c.base_url}/inbox"])
            await run_until_idle(a.runtime, b.runtime, c.runtime)
            assert await b.runtime.db.read(posts.find_post, back.uri) is not None
            assert await b.runtime.db.read(posts.find_post, skipped.uri) is None
