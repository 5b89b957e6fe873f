"""The outgoing HTTP clients an instance uses.

`http_client` is the protocol library's guarded httpx client, for fetches and every
other request: every connection is checked against the address policy when it is
made (so a DNS answer cannot smuggle a private address past a check done earlier),
redirects are never followed implicitly, and proxies from the environment are
ignored. Deliveries go through `delivery_client`, which keeps the same rules with a
fraction of httpx's CPU per request (see `activitypub.delivery_client`).
"""

from __future__ import annotations

import httpx

from activitypub.addresses import AddressPolicy, guarded_client
from activitypub.delivery_client import DeliveryClient
from fediverse_share.settings import Settings


def address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy(
        allow_http=settings.allow_http,
        allow_private_addresses=settings.allow_private_addresses,
    )


def http_client(settings: Settings) -> httpx.AsyncClient:
    # Small pools keep httpx's per-request CPU low (DESIGN §7).
    return guarded_client(
        address_policy(settings),
        timeout_seconds=settings.http_timeout_seconds,
        user_agent=user_agent(settings),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )


def user_agent(settings: Settings) -> str:
    return f"fediverse-share/0.1 (+{settings.base_url})"


def delivery_client(settings: Settings) -> DeliveryClient:
    return DeliveryClient(address_policy(settings), user_agent=user_agent(settings))
