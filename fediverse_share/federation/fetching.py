"""Fetching remote documents, every GET signed by our instance actor.

Signing GETs makes us work with "authorized fetch" peers (Mastodon's secure
mode, GoToSocial, Bonfire); the instance actor itself is served unsigned.
"""

from __future__ import annotations

from typing import Any

from activitypub.fetch import Fetcher
from fediverse_share import actors
from fediverse_share.http import address_policy
from fediverse_share.runtime import Runtime
from fediverse_share.signing_keys import SigningKey


async def instance_signing_key(runtime: Runtime) -> SigningKey:
    """Our instance actor's key, which signs fetches and clearing requests (looked up
    once per runtime: a local actor's key never changes in place)."""
    if runtime.instance_key is None:
        actor = await runtime.db.read(actors.get_local_actor, runtime.instance.domain)
        runtime.instance_key = await runtime.keys.signing_key(actor["id"])
    return runtime.instance_key


async def fetcher_for(runtime: Runtime) -> Fetcher:
    key = await instance_signing_key(runtime)
    return Fetcher(
        runtime.http,
        address_policy(runtime.settings),
        key_id=key.key_id,
        private_key=key.private_key,
        max_body_bytes=runtime.settings.max_body_bytes,
        timeout_seconds=runtime.settings.http_timeout_seconds,
    )


async def fetch_json(runtime: Runtime, url: str) -> dict[str, Any]:
    fetcher = await fetcher_for(runtime)
    return await fetcher.fetch_json(url)
