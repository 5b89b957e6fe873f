"""Fresh, isolated databases for tests: a SQLite file, or a PostgreSQL schema."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from fediverse_share.database import normalise_url


def _asyncpg_dsn(url: str) -> str:
    return "postgresql://" + normalise_url(url).split("://", 1)[1]


@contextlib.asynccontextmanager
async def fresh_database_url(
    postgres_url: str, tmp_path: Path, name: str = "instance"
) -> AsyncIterator[tuple[str, str | None]]:
    """Yield ``(url, schema)``: a new SQLite file, or a new schema in PostgreSQL."""
    if not postgres_url:
        yield f"sqlite:///{tmp_path / (name + '.db')}", None
        return
    schema = f"t_{name}_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(_asyncpg_dsn(postgres_url))
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        yield postgres_url, schema
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
