"""Members with tokens on a running instance, for client-API tests over HTTP.

`Member` is a signed-in member with an ``httpx`` client whose calls check the
one rule that holds for every answer under ``/api/``: it is JSON, never HTML.
Tokens come from the password grant of an app registered once per instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from fediverse_share import members
from tests.support.instances import Instance

PASSWORD = "correct horse battery staple"
SCOPES = "read write follow push"


@dataclass(slots=True)
class Member:
    username: str
    actor_id: int
    user_id: int
    token: str
    http: httpx.AsyncClient
    instance: Instance

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def handle(self) -> str:
        return f"{self.username}@{self.instance.domain}"

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.http.request(method, path, headers=headers, **kwargs)
        if path.startswith("/api/"):
            kind = response.headers.get("content-type", "")
            assert kind.startswith("application/json"), (path, response.status_code, kind)
        return response

    async def get(self, path: str, **kwargs: Any) -> Any:
        response = await self.call("GET", path, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()

    async def post(self, path: str, **kwargs: Any) -> Any:
        response = await self.call("POST", path, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()


@dataclass(slots=True)
class Site:
    """A running instance with one registered app."""

    instance: Instance
    http: httpx.AsyncClient
    app: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.instance.base_url

    async def member(self, username: str, *, is_admin: bool = False) -> Member:
        added = await members.add_member(
            self.instance.runtime, username, PASSWORD, is_admin=is_admin
        )
        if not self.app:
            response = await self.http.post(
                "/api/v1/apps",
                json={"client_name": "tests", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                      "scopes": SCOPES},
            )  # fmt: skip
            self.app = response.json()
        return Member(
            username, added.actor_id, added.user_id, await self.token(username), self.http,
            self.instance,
        )  # fmt: skip

    async def token(self, username: str, scope: str = SCOPES) -> str:
        response = await self.http.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "client_id": self.app["client_id"],
                "client_secret": self.app["client_secret"],
                "username": username,
                "password": PASSWORD,
                "scope": scope,
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token
