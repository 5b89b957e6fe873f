"""How much the bearer-token check costs: one indexed read by the token's digest.

    .venv/bin/python bench/token_check.py [DATABASE_URL]

Prints sequential and concurrent (50 in flight) lookups per second, beside an empty
read (``SELECT 1``) on the same runner, so the cost of the lookup itself shows apart
from the hop to the database. Without a URL it uses a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Connection, text

from fediverse_share.clock import now_us
from fediverse_share.database import Database
from fediverse_share.ids import IdGenerator
from fediverse_share.migrations import upgrade
from fediverse_share.oauth import tokens
from fediverse_share.oauth.apps import App, insert_app
from fediverse_share.oauth.credentials import credential_digest

ROUNDS = 5_000
CONCURRENCY = 50


def _empty(conn: Connection) -> int:
    return int(conn.execute(text("SELECT 1")).scalar_one())


def _seed(conn: Connection, ids: IdGenerator, count: int) -> str:
    app = App(ids.next_id(), "bench", "bench", None, ("urn:ietf:wg:oauth:2.0:oob",), ("read",), 0)
    insert_app(conn, app, credential_digest("secret"))
    issued = [
        tokens.insert_token(conn, ids.next_id(), app.app_id, None, ("read",), now_us())
        for _ in range(count)
    ]
    return issued[-1].access_token


async def _rate(label: str, call: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    for _ in range(ROUNDS):
        await call()
    sequential = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(ROUNDS // CONCURRENCY):
        await asyncio.gather(*(call() for _ in range(CONCURRENCY)))
    concurrent = time.perf_counter() - started
    print(
        f"{label:<28} {sequential / ROUNDS * 1e6:8.0f} µs each, "
        f"{ROUNDS / sequential:8.0f}/s sequential, {ROUNDS / concurrent:8.0f}/s at {CONCURRENCY}"
    )


async def main(url: str, schema: str | None = None) -> None:
    db = Database(url, schema=schema)
    try:
        await upgrade(db)
        token = await db.write(_seed, IdGenerator(), 10_000)
        print(f"{db.dialect}: 10,000 tokens stored")
        await _rate("empty read (SELECT 1)", lambda: db.read(_empty))
        await _rate("find_grant (valid token)", lambda: db.read(tokens.find_grant, token))
        await _rate("find_grant (unknown token)", lambda: db.read(tokens.find_grant, "nope"))
    finally:
        await db.close()


async def on_postgres(url: str) -> None:
    """Run in a schema of its own, dropped afterwards, so the database is left as it was."""
    import asyncpg

    schema = f"bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect("postgresql://" + url.split("://", 1)[1])
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await main(url, schema)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        asyncio.run(on_postgres(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(main(f"sqlite:///{Path(tmp) / 'bench.db'}"))
