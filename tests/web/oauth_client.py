"""Driving the OAuth flows over public HTTP, as a Mastodon client and a browser would."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from fediverse_share import members
from fediverse_share.members import Member
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance

OOB = "urn:ietf:wg:oauth:2.0:oob"
PASSWORD = "correct horse battery staple"
ISO_MILLIS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@dataclass(slots=True)
class Site:
    """A running instance with one member, and an HTTP client pointed at it."""

    instance: Instance
    member: Member
    http: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        return self.instance.base_url


@contextlib.asynccontextmanager
async def member_site(tmp_path: Path, username: str = "alice") -> AsyncIterator[Site]:
    async with running_instance("oauth", tmp_path, TEST_DATABASE_URL) as instance:
        member = await members.add_member(instance.runtime, username, PASSWORD)
        async with httpx.AsyncClient(base_url=instance.base_url) as http:
            yield Site(instance, member, http)


class _FormReader(HTMLParser):
    """The first form of a page: its action and every named input's value."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = named.get("action") or ""
        elif tag == "input" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""


def read_form(html: str) -> tuple[str, dict[str, str]]:
    reader = _FormReader()
    reader.feed(html)
    assert reader.action is not None, "the page has no form"
    return reader.action, reader.fields


def code_on_page(html: str) -> str:
    found = re.search(r'id="authorization-code">([^<]+)<', html)
    assert found, "the page shows no code"
    return found.group(1)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def register(
    http: httpx.AsyncClient,
    redirect_uris: str | list[str] = OOB,
    scopes: str = "read write follow push",
) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/apps",
        json={"client_name": "Test app", "redirect_uris": redirect_uris, "scopes": scopes},
    )
    assert response.status_code == 200, response.text
    app: dict[str, Any] = response.json()
    return app


async def authorize(
    http: httpx.AsyncClient,
    query: dict[str, str],
    *,
    username: str | None = "alice",
    password: str | None = PASSWORD,
    decision: str = "approve",
    path: str = "/oauth/authorize",
) -> httpx.Response:
    """GET the consent page, fill it in as the member, and POST it (no redirects followed)."""
    page = await http.get(path, params=query)
    assert page.status_code == 200, page.text
    action, fields = read_form(page.text)
    if username is not None and "username" in fields:
        fields["username"] = username
    if password is not None and "password" in fields:
        fields["password"] = password
    fields["decision"] = decision
    return await http.post(action, data=fields)


def code_query(app: dict[str, Any], redirect_uri: str = OOB, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": redirect_uri,
        "scope": "read write follow push",
        **extra,
    }


async def token_for_code(
    http: httpx.AsyncClient, app: dict[str, Any], code: str, redirect_uri: str = OOB, **extra: str
) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "code": code,
            "redirect_uri": redirect_uri,
            **extra,
        },
    )


async def password_token(
    http: httpx.AsyncClient, app: dict[str, Any], scope: str = "read write follow push"
) -> str:
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": "alice",
            "password": PASSWORD,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
