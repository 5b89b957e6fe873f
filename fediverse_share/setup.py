"""Creating an instance (``fediverse-share init``) and reading who it is."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, insert, select

from activitypub.keys import KeyPair
from fediverse_share import actors, tables
from fediverse_share.clock import now_us
from fediverse_share.database import Database
from fediverse_share.errors import ConfigError
from fediverse_share.ids import IdGenerator
from fediverse_share.runtime import InstanceInfo
from fediverse_share.settings import Settings


@dataclass(frozen=True, slots=True)
class CommunitySpec:
    username: str
    name: str
    summary: str = ""


def load_instance_info(conn: Connection, settings: Settings) -> InstanceInfo:
    row = _find_instance(conn)
    if row is None:
        raise ConfigError("this instance is not initialised: run 'fediverse-share init' first")
    if row.domain != settings.domain:
        raise ConfigError(
            f"the database belongs to {row.domain!r}, not {settings.domain!r}: "
            "a domain cannot change once peers know it"
        )
    return InstanceInfo(row.domain, row.community_username, settings.base_url)


def _find_instance(conn: Connection) -> Row[Any] | None:
    return conn.execute(select(tables.instance)).first()


async def initialise(settings: Settings, community: CommunitySpec) -> bool:
    """Create or upgrade the schema and, the first time, the instance's actors.

    Returns True if the instance was created now, False if it existed (then only
    the schema was upgraded). Safe to run again.
    """
    # Alembic (and Mako) only here: a serving process never loads them (8 MB of RSS).
    from fediverse_share import migrations

    db = Database(settings.database_url, schema=settings.database_schema)
    try:
        await migrations.upgrade(db)
        info = InstanceInfo(
            settings.domain, actors.check_username(community.username), settings.base_url
        )
        existing = await db.read(_find_instance)
        if existing is not None:
            await db.read(load_instance_info, settings)
            return False
        group_keys = await actors.generate_keypair()
        instance_keys = await actors.generate_keypair()
        await db.write(_create, info, community, group_keys, instance_keys, IdGenerator())
        return True
    finally:
        await db.close()


def _create(
    conn: Connection,
    info: InstanceInfo,
    community: CommunitySpec,
    group_keys: KeyPair,
    instance_keys: KeyPair,
    ids: IdGenerator,
) -> None:
    created = now_us()
    conn.execute(
        insert(tables.instance).values(
            id=1,
            domain=info.domain,
            community_username=info.community_username,
            created_at_us=created,
        )
    )
    group = actors.NewActor(
        ids.next_id(),
        "Group",
        info.community_username,
        info.community_uri,
        community.name,
        community.summary,
        group_keys,
        created,
    )
    application = actors.NewActor(
        ids.next_id(),
        "Application",
        info.domain,
        info.instance_actor_uri,
        info.domain,
        "The instance actor of this community server.",
        instance_keys,
        created,
    )
    actors.insert_local_actor(conn, info, group)
    actors.insert_local_actor(conn, info, application)


def new_secret_key() -> str:
    return secrets.token_urlsafe(32)
