"""The one outgoing HTTP client an instance uses."""

from __future__ import annotations

import httpx

from fediverse_share.settings import Settings


def http_client(settings: Settings) -> httpx.AsyncClient:
    # Small pools keep httpx's per-request CPU low (DESIGN §7); redirects are
    # followed by our fetcher itself so each hop passes the address policy.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        follow_redirects=False,
        headers={"User-Agent": f"fediverse-share/0.1 (+{settings.base_url})"},
    )
