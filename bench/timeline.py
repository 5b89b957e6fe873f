"""How long a page of the home timeline takes with a large database.

    .venv/bin/python bench/timeline.py [--statuses N] [--follows N] [--samples N]

Seeds, in bulk and inside the database (generate_series on PostgreSQL, a recursive
CTE on SQLite), 2,000 remote authors with 1,000,000 statuses between them, 1,000
members who follow 10 authors each (10,000 follows), a like on every tenth status,
and the members' home feeds as fan-out on write leaves them (one ``home_feed`` row
per follower of each status: 5,000,000 rows). Then it reads random pages of 40
(the first page half of the time, else one starting at a random ``max_id`` in the
member's feed) and prints p50 and p99 of the whole service path a request takes:
the feed's index range scan, hydrating the 40 statuses with their accounts, counts
and the viewer's flags (`statuses.load_statuses`), and rendering them to JSON. The
HTTP layer adds ~0.2 ms on top (DESIGN §7). Runs on SQLite (a temporary file) and on
PostgreSQL (a schema of its own, dropped afterwards) when it is reachable; each
run is bounded by ``--samples`` and ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from common import percentile_ms
from sqlalchemy import Connection, text

from fediverse_share.database import Database
from fediverse_share.mastodon import feeds, pages, statuses
from fediverse_share.mastodon.status_entities import render_statuses
from fediverse_share.migrations import upgrade
from fediverse_share.runtime import InstanceInfo

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
INFO = InstanceInfo("bench.local", "bench", "https://bench.local")
AUTHORS = 2_000
MEMBERS_BASE, USERS_BASE, FOLLOWS_BASE, LIKES_BASE = 10_000_000, 20_000_000, 30_000_000, 1
START_MS = 1_700_000_000_000
DOCUMENT = orjson.dumps(
    {
        "type": "Note",
        "content": "<p>Lending a ladder, a drill and a wheelbarrow this weekend.</p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "tag": [{"type": "Hashtag", "name": "#tools", "href": "https://bench.local/tags/tools"}],
    }
).decode()


def _series(conn: Connection, count: int) -> tuple[str, str]:
    """(WITH prefix, FROM source) yielding n = 0 .. count-1 on either engine."""
    if conn.dialect.name == "postgresql":
        return "", f"generate_series(0, {count - 1}) AS s(n)"
    return (
        f"WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1}) ",
        "s",
    )


def _seed(conn: Connection, statuses_count: int, members: int, per_member: int) -> None:
    run = conn.exec_driver_sql
    with_, source = _series(conn, AUTHORS)
    run(
        f"{with_}INSERT INTO actors (id, uri, type, username, domain, local, name, summary,"
        " manually_approves_followers, discoverable, gone, published_at_us)"
        f" SELECT 1000 + n, 'https://remote' || (n % 50) || '.example/users/a' || n, 'Person',"
        " 'a' || n, 'remote' || (n % 50) || '.example', false, 'Author ' || n, '', false, true,"
        f" false, {START_MS * 1000} FROM {source}"
    )
    with_, source = _series(conn, members)
    run(
        f"{with_}INSERT INTO actors (id, uri, type, username, domain, local, name, summary,"
        " manually_approves_followers, discoverable, gone, published_at_us)"
        f" SELECT {MEMBERS_BASE} + n, 'https://bench.local/users/m' || n, 'Person', 'm' || n,"
        f" 'bench.local', true, 'Member ' || n, '', false, true, false, {START_MS * 1000}"
        f" FROM {source}"
    )
    run(
        f"{with_}INSERT INTO users (id, actor_id, username, is_admin, disabled, created_at_us)"
        f" SELECT {USERS_BASE} + n, {MEMBERS_BASE} + n, 'm' || n, false, false, 0 FROM {source}"
    )
    with_, source = _series(conn, members * per_member)
    run(
        f"{with_}INSERT INTO follows (id, follower_id, followed_id, uri, state, created_at_us)"
        f" SELECT {FOLLOWS_BASE} + n, {MEMBERS_BASE} + n / {per_member},"
        f" 1000 + ((n / {per_member}) * 7 + (n % {per_member}) * 13) % {AUTHORS},"
        f" 'https://bench.local/follows/' || n, 'accepted', 0 FROM {source}"
    )
    with_, source = _series(conn, statuses_count)
    # Snowflake-like ids: one millisecond apart, so they sort by time as ours do.
    conn.execute(
        text(
            f"{with_}INSERT INTO posts (id, uri, actor_id, type, content, summary, url,"
            " visibility, local, published_at_us, document)"
            f" SELECT ({START_MS} + n) * 65536, 'https://remote.example/p/' || n,"
            f" 1000 + n % {AUTHORS}, 'Note',"
            " '<p>Lending a ladder, a drill and a wheelbarrow this weekend.</p>', '',"
            f" 'https://remote.example/@x/' || n, 'public', false, ({START_MS} + n) * 1000,"
            f" :doc FROM {source}"
        ),
        {"doc": DOCUMENT},
    )
    run(
        "INSERT INTO account_stats (actor_id, statuses_count, last_status_at_us)"
        " SELECT actor_id, count(*), max(published_at_us) FROM posts GROUP BY actor_id"
    )
    with_, source = _series(conn, statuses_count // 10)
    run(
        f"{with_}INSERT INTO interactions (id, type, actor_id, object_uri, activity_uri,"
        f" created_at_us) SELECT {LIKES_BASE} + n, 'Like', {MEMBERS_BASE} + n % {members},"
        " 'https://remote.example/p/' || (n * 10), 'https://bench.local/likes/' || n, 0"
        f" FROM {source}"
    )
    run(
        "INSERT INTO home_feed (user_id, status_id, post_id)"
        " SELECT u.id, p.id, p.id FROM follows f"
        " JOIN users u ON u.actor_id = f.follower_id"
        " JOIN posts p ON p.actor_id = f.followed_id"
    )
    run("ANALYZE")


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _page_ids(conn: Connection, user_id: int, page: pages.Page) -> list[int]:
    return feeds.home_ids(conn, user_id, page)


def _feed_bounds(conn: Connection, user_id: int) -> tuple[int, int]:
    row = conn.execute(
        text("SELECT min(status_id), max(status_id) FROM home_feed WHERE user_id = :u"),
        {"u": user_id},
    ).one()
    return int(row[0]), int(row[1])


async def _one_page(db: Database, members: int, rng: random.Random) -> tuple[float, float]:
    member = rng.randrange(members)
    viewer = statuses.Viewer(MEMBERS_BASE + member, USERS_BASE + member)
    max_id = None
    if rng.random() >= 0.5:
        low, high = await db.read(_feed_bounds, viewer.user_id)
        max_id = rng.randrange(low, high)
    started = time.perf_counter()
    page = pages.Page(max_id=max_id, limit=40)
    ids = await db.read(_page_ids, viewer.user_id, page)
    scanned = time.perf_counter()
    found = await db.read(statuses.load_statuses, ids, INFO, viewer)
    body = orjson.dumps(render_statuses(found, INFO.base_url))
    assert len(found) == len(ids) and body
    return scanned - started, time.perf_counter() - started


async def bench(
    url: str,
    args: argparse.Namespace,
    schema: str | None = None,
    settle: Callable[[], Awaitable[object]] | None = None,
) -> None:
    db = Database(url, schema=schema)
    try:
        await upgrade(db)
        started = time.perf_counter()
        per_member = 10
        members = args.follows // per_member
        await db.exclusive(_seed, args.statuses, members, per_member)
        if settle is not None:
            await settle()
        seeded = time.perf_counter() - started
        feed_rows = await db.read(_count, "home_feed")
        print(
            f"{db.dialect}: {args.statuses:,} statuses, {args.follows:,} follows,"
            f" {feed_rows:,} home_feed rows; seeded in {seeded:.0f} s"
        )
        rng = random.Random(5)
        for _ in range(20):  # warm the caches and the connection pool
            await _one_page(db, members, rng)
        scans: list[float] = []
        totals: list[float] = []
        deadline = time.perf_counter() + args.max_seconds
        while len(totals) < args.samples and time.perf_counter() < deadline:
            scan, total = await _one_page(db, members, rng)
            scans.append(scan)
            totals.append(total)
        ms = 1000
        p50, p99 = statistics.median(totals) * ms, percentile_ms(totals, 0.99)
        print(
            f"  home page of 40, {len(totals)} samples: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            f" (feed index scan alone: p50 {statistics.median(scans) * ms:.2f} ms,"
            f" p99 {percentile_ms(scans, 0.99):.2f} ms)"
        )
    finally:
        await db.close()


async def on_postgres(url: str, args: argparse.Namespace) -> None:
    import asyncpg

    dsn = "postgresql://" + url.split("://", 1)[1]
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"postgresql: not reachable at {url} ({exc}); skipped")
        return
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')

        async def settle() -> None:
            # What autovacuum does to tables once a bulk load settles: without it
            # PostgreSQL visits the heap for rows it could read from an index alone.
            await conn.execute(f'SET search_path TO "{schema}"')
            await conn.execute("VACUUM ANALYZE")

        await bench(url, args, schema, settle)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statuses", type=int, default=1_000_000)
    parser.add_argument("--follows", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1_000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--postgres", default=POSTGRES_URL, help="'' to skip PostgreSQL")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args))
    if args.postgres:
        asyncio.run(on_postgres(args.postgres, args))


if __name__ == "__main__":
    sys.exit(main())
