"""Public keys of remote actors for signature checks: cached parsed, refetched on demand.

An actor that deleted itself (``gone``) is fetched again rather than trusted: its server
answers 410 and its signatures stop verifying; one that came back is stored afresh.
The inbox's handlers drop an actor's cached keys when it is updated or deleted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activitypub.keys import PublicKeyInfo, parse_public_key_pem
from fediverse_share.federation import remote_actors
from fediverse_share.runtime import Runtime

KeyResolver = Callable[..., Awaitable[PublicKeyInfo]]


def resolver(runtime: Runtime) -> KeyResolver:
    """A resolver for `activitypub.signatures.verify_request`."""

    async def resolve(key_id: str, *, refresh: bool = False) -> PublicKeyInfo:
        cache = runtime.public_keys
        if not refresh and (cached := cache.get(key_id)) is not None:
            return cached
        row = await runtime.db.read(remote_actors.find_actor_by_key_id, key_id)
        if row is None or refresh or row["gone"]:
            row = await remote_actors.get_actor(runtime, key_id.split("#", 1)[0], refresh=True)
        info = PublicKeyInfo(owner=row["uri"], key=parse_public_key_pem(row["public_key_pem"]))
        cache.put(key_id, info)
        return info

    return resolve
