"""Local actors: creating them and reading them back.

Members are ``Person``, the community is a ``Group`` and the instance actor an
``Application``. All three share one namespace of usernames (WebFinger needs
``acct:`` for groups too), except that the instance actor's username is the
domain itself (FEP-d556).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, insert, select

from activitypub.keys import KeyPair, generate_rsa_keypair
from fediverse_share import tables
from fediverse_share.errors import BadRequest, NotFound
from fediverse_share.runtime import InstanceInfo

USERNAME_RE = re.compile(r"[a-z0-9_]+([.-]+[a-z0-9_]+)*")
MAX_USERNAME_LENGTH = 30


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.fullmatch(name) or len(name) > MAX_USERNAME_LENGTH:
        raise BadRequest(
            "usernames are letters, digits and underscores, optionally joined by . or -",
            code="invalid_username",
        )
    return name


async def generate_keypair() -> KeyPair:
    """A new RSA-2048 key pair; generated off the event loop (it takes ~100 ms)."""
    return await asyncio.to_thread(generate_rsa_keypair)


@dataclass(frozen=True, slots=True)
class NewActor:
    actor_id: int
    type: str
    username: str
    uri: str
    name: str
    summary: str
    keys: KeyPair
    created_at_us: int


def insert_local_actor(conn: Connection, info: InstanceInfo, actor: NewActor) -> None:
    """Add a local actor; its URLs follow the layout in `InstanceInfo`."""
    base = actor.uri
    is_instance = actor.type == "Application"
    conn.execute(
        insert(tables.actors).values(
            id=actor.actor_id,
            uri=actor.uri,
            type=actor.type,
            username=actor.username,
            domain=info.domain,
            local=True,
            name=actor.name,
            summary=actor.summary,
            url=info.base_url + "/about" if is_instance else f"{info.base_url}/@{actor.username}",
            inbox=base + "/inbox",
            outbox=base + "/outbox",
            shared_inbox=info.shared_inbox,
            followers_url=base + "/followers",
            following_url=base + "/following",
            key_id=base + "#main-key",
            public_key_pem=actor.keys.public_key_pem,
            private_key_pem=actor.keys.private_key_pem,
            manually_approves_followers=False,
            discoverable=not is_instance,
            published_at_us=actor.created_at_us,
        )
    )


def find_local_actor(conn: Connection, username: str) -> RowMapping | None:
    row = (
        conn.execute(
            select(tables.actors).where(
                tables.actors.c.local.is_(True), tables.actors.c.username == username
            )
        )
        .mappings()
        .first()
    )
    return row


def get_local_actor(conn: Connection, username: str) -> RowMapping:
    row = find_local_actor(conn, username)
    if row is None:
        raise NotFound(f"no actor named {username!r} here")
    return row


def find_actor_by_uri(conn: Connection, uri: str) -> RowMapping | None:
    return conn.execute(select(tables.actors).where(tables.actors.c.uri == uri)).mappings().first()
