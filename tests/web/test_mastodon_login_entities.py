"""Entity shapes clients parse at sign-in, checked against the reference field lists (§4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fediverse_share import members
from fediverse_share.federation import actions
from tests.web.oauth_client import (
    ISO_MILLIS,
    OOB,
    Site,
    bearer,
    member_site,
    password_token,
    register,
)

ACCOUNT_STRINGS = [
    "id",
    "username",
    "acct",
    "url",
    "uri",
    "display_name",
    "note",
    "avatar",
    "avatar_static",
    "header",
    "header_static",
    "created_at",
]
ACCOUNT_BOOLS = ["locked", "bot", "group", "discoverable"]
ACCOUNT_INTS = ["statuses_count", "followers_count", "following_count"]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with member_site(tmp_path) as site:
        yield site


def _types(entity: dict[str, Any], kind: type, names: list[str]) -> None:
    for name in names:
        assert name in entity, f"{name} is missing"
        assert isinstance(entity[name], kind), f"{name} is {entity[name]!r}, not {kind.__name__}"


def check_account(account: dict[str, Any], base_url: str) -> None:
    _types(account, str, ACCOUNT_STRINGS)
    _types(account, bool, ACCOUNT_BOOLS)
    _types(account, int, ACCOUNT_INTS)
    _types(account, list, ["fields", "emojis"])
    assert account["id"].isdigit()
    assert ISO_MILLIS.fullmatch(account["created_at"])
    assert account["last_status_at"] is None or len(account["last_status_at"]) == 10
    for image in ("avatar", "avatar_static", "header", "header_static"):
        assert account[image].startswith(base_url + "/")


async def _served(url: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/")


async def test_credential_account_shape(site: Site) -> None:
    """verify_credentials has every Account field, a complete source, and served images."""
    token = await password_token(site.http, await register(site.http))
    me = (await site.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))).json()
    check_account(me, site.base_url)
    assert me["acct"] == me["username"] == "alice"
    assert me["uri"] == site.member.uri
    assert me["group"] is False and me["bot"] is False
    source = me["source"]
    assert source["privacy"] == "public"
    assert source["sensitive"] is False
    assert isinstance(source["language"], str)
    assert isinstance(source["note"], str)
    assert source["fields"] == []
    assert source["follow_requests_count"] == 0
    await _served(me["avatar"])
    await _served(me["header"])


async def test_application_shapes(site: Site) -> None:
    """CredentialApplication and Application carry ids as strings and both redirect forms."""
    response = await site.http.post(
        "/api/v1/apps",
        data={
            "client_name": "Form app",
            "redirect_uris": f"{OOB}\nicecubesapp://",
            "website": "https://example.org/app",
        },
    )
    app = response.json()
    assert app["id"].isdigit()
    assert app["name"] == "Form app"
    assert app["website"] == "https://example.org/app"
    assert app["scopes"] == ["read"]  # the default
    assert app["redirect_uris"] == [OOB, "icecubesapp://"]
    assert app["redirect_uri"] == f"{OOB}\nicecubesapp://"
    assert isinstance(app["client_id"], str) and len(app["client_id"]) >= 32
    assert isinstance(app["client_secret"], str) and len(app["client_secret"]) >= 32
    assert app["client_secret_expires_at"] == 0
    assert app["vapid_key"] == ""

    token = await password_token(site.http, app, scope="read")
    verified = await site.http.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    public = verified.json()
    assert "client_secret" not in public
    assert {k: public[k] for k in ("id", "name", "website", "scopes", "redirect_uris")} == {
        k: app[k] for k in ("id", "name", "website", "scopes", "redirect_uris")
    }


async def test_redirect_uris_as_an_array(site: Site) -> None:
    """redirect_uris may come as a JSON array and as Rails-style form keys."""
    as_json = await register(site.http, redirect_uris=[OOB, "icecubesapp://"])
    assert as_json["redirect_uris"] == [OOB, "icecubesapp://"]
    as_form = await site.http.post(
        "/api/v1/apps",
        data={
            "client_name": "x",
            "redirect_uris[]": [OOB, "oauth2redirect://x/"],
            "scopes": "read",
        },
    )
    assert as_form.json()["redirect_uris"] == [OOB, "oauth2redirect://x/"]


async def test_token_shape(site: Site) -> None:
    """Token: access_token, token_type Bearer, scope as asked, created_at an integer."""
    app = await register(site.http)
    response = await site.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read write",
        },
    )
    token = response.json()
    assert set(token) == {"access_token", "token_type", "scope", "created_at"}
    assert len(token["access_token"]) >= 43
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read write"
    assert isinstance(token["created_at"], int) and token["created_at"] > 1_700_000_000


def _check_configuration(configuration: dict[str, Any]) -> None:
    assert isinstance(configuration["accounts"]["max_featured_tags"], int)
    statuses = configuration["statuses"]
    for key in ("max_characters", "max_media_attachments", "characters_reserved_per_url"):
        assert isinstance(statuses[key], int)
    media = configuration["media_attachments"]
    assert isinstance(media["supported_mime_types"], list)
    for key in (
        "image_size_limit",
        "image_matrix_limit",
        "video_size_limit",
        "video_frame_rate_limit",
        "video_matrix_limit",
    ):
        assert isinstance(media[key], int)
    polls = configuration["polls"]
    for key in ("max_options", "max_characters_per_option", "min_expiration", "max_expiration"):
        assert isinstance(polls[key], int)


async def test_instance_v1_shape(site: Site) -> None:
    """V1 instance: bare-domain uri, strings never null, counts from the database."""
    await members.add_member(site.instance.runtime, "root", None, is_admin=True)
    for path in ("/api/v1/instance", "/api/v1/instance/"):
        instance = (await site.http.get(path)).json()
        _types(
            instance,
            str,
            ["uri", "title", "short_description", "description", "email", "version", "thumbnail"],
        )
        assert instance["uri"] == site.instance.domain
        assert instance["version"] == "4.2.0 (compatible; fediverse-share 0.1.0)"
        assert instance["urls"] == {"streaming_api": "ws" + site.base_url.removeprefix("http")}
        assert instance["stats"] == {"user_count": 2, "status_count": 0, "domain_count": 0}
        assert instance["languages"] == ["en"]
        assert instance["registrations"] is False
        assert instance["approval_required"] is False
        assert instance["invites_enabled"] is False
        assert instance["rules"] == []
        _check_configuration(instance["configuration"])
        check_account(instance["contact_account"], site.base_url)
        assert instance["contact_account"]["username"] == "root"
        await _served(instance["thumbnail"])


async def test_instance_v2_shape(site: Site) -> None:
    """V2 instance: the complete shape Elk, Ice Cubes, Tusky and Ivory decode."""
    instance = (await site.http.get("/api/v2/instance")).json()
    _types(instance, str, ["domain", "title", "version", "source_url", "description"])
    assert instance["domain"] == site.instance.domain
    assert instance["usage"] == {"users": {"active_month": 1}}
    assert isinstance(instance["thumbnail"]["url"], str)
    assert instance["icon"] == []
    assert instance["languages"] == ["en"]
    configuration = instance["configuration"]
    assert configuration["urls"] == {"streaming": "ws" + site.base_url.removeprefix("http")}
    assert configuration["vapid"] == {"public_key": ""}
    assert configuration["translation"] == {"enabled": False}
    assert isinstance(configuration["accounts"]["max_pinned_statuses"], int)
    _check_configuration(configuration)
    registrations = instance["registrations"]
    assert registrations["enabled"] is False and registrations["approval_required"] is False
    assert isinstance(registrations["message"], str)
    assert instance["api_versions"] == {"mastodon": 1}
    assert isinstance(instance["contact"]["email"], str)
    assert instance["contact"]["account"] is None  # no admin yet
    assert instance["rules"] == []


async def test_counts_follow_the_members_posts(site: Site) -> None:
    """statuses_count, last_status_at and the instance's status_count count live local posts."""
    await actions.post(site.instance.runtime, site.member, "<p>Lending a ladder</p>")
    token = await password_token(site.http, await register(site.http))
    me = (await site.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))).json()
    assert me["statuses_count"] == 1
    assert len(me["last_status_at"]) == 10  # YYYY-MM-DD
    instance = (await site.http.get("/api/v1/instance")).json()
    assert instance["stats"]["status_count"] == 1
