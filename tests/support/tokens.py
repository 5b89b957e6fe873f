"""Members with bearer tokens, obtained through the real OAuth endpoints.

An app is registered at ``/api/v1/apps`` (`tests.web.oauth_client.register`) and a
member's token comes from the password grant at ``/oauth/token``, as a Mastodon client
would get them; `tests.web.oauth_client.password_token` does the same for ``alice`` only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fediverse_share import members
from fediverse_share.members import Member
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance
from tests.web.oauth_client import PASSWORD, register

MEMBER_SCOPES = "read write"
ADMIN_SCOPES = "read write admin:read admin:write"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A member and the Authorization header of their token."""

    member: Member
    token: str

    @property
    def username(self) -> str:
        return self.member.username

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def password_token(
    http: httpx.AsyncClient, username: str, scopes: str, password: str = PASSWORD
) -> str:
    """A member's token for ``scopes``, from the password grant of a fresh app."""
    app = await register(http, scopes=scopes)
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": username,
            "password": password,
            "scope": scopes,
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def sign_up(
    instance: Instance,
    http: httpx.AsyncClient,
    username: str,
    *,
    admin: bool = False,
    scopes: str | None = None,
) -> SignedIn:
    """Add a member (with their ledger account) and sign them in."""
    member = await members.add_member(instance.runtime, username, PASSWORD, is_admin=admin)
    chosen = scopes or (ADMIN_SCOPES if admin else MEMBER_SCOPES)
    return SignedIn(member, await password_token(http, username, chosen))


@dataclass(slots=True)
class Community:
    """A running instance, an HTTP client pointed at it, and its signed-in members."""

    instance: Instance
    http: httpx.AsyncClient
    currency: str

    async def sign_up(self, username: str, **kwargs: Any) -> SignedIn:
        return await sign_up(self.instance, self.http, username, **kwargs)


@contextlib.asynccontextmanager
async def community(tmp_path: Path, name: str = "exchange") -> AsyncIterator[Community]:
    """A fresh community (currency ``<NAME>X``, scale 2) served on loopback."""
    async with (
        running_instance(name, tmp_path, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Community(instance, http, f"{name.upper()}X")
