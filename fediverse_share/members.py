"""Members: the people of a community who sign in here.

These are the service-layer functions the CLI, the web pages and the APIs call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, insert, select

from fediverse_share import actors, ledger, tables
from fediverse_share.clock import now_us
from fediverse_share.errors import Conflict, NotFound
from fediverse_share.passwords import hash_password, verify_password
from fediverse_share.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    actor_id: int
    username: str
    uri: str
    is_admin: bool


def _member(row: RowMapping) -> Member:
    return Member(row["id"], row["actor_id"], row["username"], row["uri"], row["is_admin"])


_MEMBER_COLUMNS = (
    tables.users.c.id,
    tables.users.c.actor_id,
    tables.users.c.username,
    tables.users.c.is_admin,
    tables.actors.c.uri,
)


def _member_query() -> Select[Any]:
    return select(*_MEMBER_COLUMNS).join(
        tables.actors, tables.actors.c.id == tables.users.c.actor_id
    )


def find_member(conn: Connection, username: str) -> Member | None:
    row = (
        conn.execute(_member_query().where(tables.users.c.username == username.lower()))
        .mappings()
        .first()
    )
    return None if row is None else _member(row)


def get_member(conn: Connection, username: str) -> Member:
    member = find_member(conn, username)
    if member is None:
        raise NotFound(f"no member named {username!r}")
    return member


def get_member_by_user_id(conn: Connection, user_id: int) -> Member:
    row = conn.execute(_member_query().where(tables.users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound("no such member")
    return _member(row)


async def add_member(
    runtime: Runtime,
    username: str,
    password: str | None,
    *,
    display_name: str = "",
    is_admin: bool = False,
) -> Member:
    """Create a member: their Person actor with a key pair and their sign-in."""
    name = actors.check_username(username)
    keys = await actors.generate_keypair()
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    actor = actors.NewActor(
        runtime.ids.next_id(),
        "Person",
        name,
        runtime.instance.actor_uri(name),
        display_name or name,
        "",
        keys,
        now_us(),
    )
    return await runtime.db.write(
        _insert_member, runtime, actor, password_hash, is_admin, runtime.ids.next_id()
    )


def _insert_member(
    conn: Connection,
    runtime: Runtime,
    actor: actors.NewActor,
    password_hash: str | None,
    is_admin: bool,
    user_id: int,
) -> Member:
    if actor.username == runtime.instance.domain or actors.find_local_actor(conn, actor.username):
        raise Conflict(f"the name {actor.username!r} is taken", code="username_taken")
    actors.insert_local_actor(conn, runtime.instance, actor)
    conn.execute(
        insert(tables.users).values(
            id=user_id,
            actor_id=actor.actor_id,
            username=actor.username,
            password_hash=password_hash,
            is_admin=is_admin,
            created_at_us=actor.created_at_us,
        )
    )
    ledger.open_member_account(conn, actor.username, actor.created_at_us)
    return Member(user_id, actor.actor_id, actor.username, actor.uri, is_admin)


async def authenticate(runtime: Runtime, username: str, password: str) -> Member | None:
    """The member if the password is theirs, else None (same cost either way)."""
    row = await runtime.db.read(_password_row, username.strip().lower())
    encoded = row["password_hash"] if row else None
    ok = await asyncio.to_thread(verify_password, password, encoded)
    if not ok or row is None or row["disabled"]:
        return None
    return await runtime.db.read(get_member_by_user_id, row["id"])


def _password_row(conn: Connection, username: str) -> RowMapping | None:
    return (
        conn.execute(
            select(tables.users.c.id, tables.users.c.password_hash, tables.users.c.disabled).where(
                tables.users.c.username == username
            )
        )
        .mappings()
        .first()
    )
