"""What a running instance holds: built by the app's lifespan, one per app.

Handlers reach it as ``request.app.state.runtime``; workers and tests get it
from the app too. Nothing here is global, so several instances share a process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from activitypub.delivery_client import DeliveryClient
from activitypub.keys import PublicKeyCache
from fediverse_share import clock
from fediverse_share.database import Database
from fediverse_share.ids import IdGenerator
from fediverse_share.settings import Settings
from fediverse_share.signing_keys import SigningKey, SigningKeys


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """Who this instance is, read from its database at start-up."""

    domain: str
    community_username: str
    base_url: str

    def actor_uri(self, username: str) -> str:
        return f"{self.base_url}/users/{username}"

    @property
    def instance_actor_uri(self) -> str:
        return f"{self.base_url}/actor"

    @property
    def community_uri(self) -> str:
        return self.actor_uri(self.community_username)

    @property
    def avatar_url(self) -> str:
        return f"{self.base_url}/static/avatar.png"

    @property
    def header_url(self) -> str:
        return f"{self.base_url}/static/header.png"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    #: Deliveries' own client (`activitypub.delivery_client`); ``http`` for the rest.
    delivery_client: DeliveryClient
    instance: InstanceInfo
    ids: IdGenerator = field(default_factory=IdGenerator)
    keys: SigningKeys = field(init=False)
    #: Remote actors' parsed public keys by keyId (the inbox's hot path).
    public_keys: PublicKeyCache = field(default_factory=PublicKeyCache)
    #: The routes each peer community last published, by its domain (see
    #: `fediverse_share.clearing.directory`): what we can reach through it.
    peer_routes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: When each periodic worker job last ran (microseconds), by the job's name.
    schedule: dict[str, int] = field(default_factory=dict)
    #: The instance actor's signing key, once looked up
    #: (`fediverse_share.federation.fetching.instance_signing_key`).
    instance_key: SigningKey | None = None

    def __post_init__(self) -> None:
        self.keys = SigningKeys(self.db)

    def now_us(self) -> int:
        """This instance's clock: the system's, moved by ``clock_offset_seconds`` (set
        only in drills and tests of clock skew between communities)."""
        return clock.now_us() + int(self.settings.clock_offset_seconds * 1_000_000)
