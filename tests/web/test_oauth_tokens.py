"""The token and revocation endpoints, the metadata document, and bearer checks on the API."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.web.oauth_client import (
    PASSWORD,
    Site,
    bearer,
    member_site,
    password_token,
    register,
)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with member_site(tmp_path) as site:
        yield site


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_client_credentials_gives_an_app_token(site: Site) -> None:
    """client_credentials (Basic auth) yields a token for the app alone, within its scopes."""
    app = await register(site.http, scopes="read write")
    response = await site.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read:accounts write"},
        headers=_basic(app["client_id"], app["client_secret"]),
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    token = response.json()
    assert token["scope"] == "read:accounts write"
    verified = await site.http.get(
        "/api/v1/apps/verify_credentials", headers=bearer(token["access_token"])
    )
    assert verified.status_code == 200
    assert verified.json()["name"] == "Test app"
    me = await site.http.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(token["access_token"])
    )
    assert me.status_code == 422
    assert me.json()["code"] == "user_required"


async def test_client_credentials_scope_escalation_is_refused(site: Site) -> None:
    """An app registered for read cannot get a write token."""
    app = await register(site.http, scopes="read")
    response = await site.http.post(
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "read write",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_password_grant_echoes_the_requested_scopes(site: Site) -> None:
    """The password grant gives a member's token whose scope is exactly what was asked."""
    app = await register(site.http)
    token = await password_token(site.http, app, scope="read write follow push")
    me = await site.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert me.json()["acct"] == "alice"
    wrong = await site.http.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": "alice",
            "password": PASSWORD + "!",
        },
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


async def test_wrong_client_secret_is_invalid_client(site: Site) -> None:
    """A wrong secret, in the body or by Basic auth, is a 401 invalid_client."""
    app = await register(site.http)
    body = await site.http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"][:-1] + "x",
        },
    )
    assert body.status_code == 401
    assert body.json()["error"] == "invalid_client"
    basic = await site.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(app["client_id"], "nope"),
    )
    assert basic.status_code == 401
    assert basic.headers["www-authenticate"] == 'Basic realm="oauth"'
    unknown = await site.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    assert unknown.status_code == 401


async def test_unsupported_grant_and_malformed_body(site: Site) -> None:
    """refresh_token is not offered, and a malformed JSON body is invalid_request."""
    app = await register(site.http)
    refresh = await site.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "unsupported_grant_type"
    malformed = await site.http.post(
        "/oauth/token", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "invalid_request"


async def test_revoked_token_stops_working_at_once(site: Site) -> None:
    """After /oauth/revoke the token is refused on the very next request."""
    app = await register(site.http)
    token = await password_token(site.http, app)
    assert (
        await site.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    ).status_code == 200
    other = await register(site.http)
    foreign = await site.http.post(
        "/oauth/revoke",
        data={
            "client_id": other["client_id"],
            "client_secret": other["client_secret"],
            "token": token,
        },
    )
    assert foreign.status_code == 403
    assert foreign.json()["error"] == "unauthorized_client"
    revoked = await site.http.post(
        "/oauth/revoke",
        data={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token},
    )
    assert revoked.status_code == 200
    assert revoked.json() == {}
    after = await site.http.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert after.status_code == 401
    unknown = await site.http.post(
        "/oauth/revoke",
        data={"client_id": app["client_id"], "client_secret": app["client_secret"], "token": "x"},
    )
    assert unknown.json() == {}


async def test_bearer_checks_answer_json_401_and_403(site: Site) -> None:
    """Missing or unknown tokens are 401, a token without the scope is 403, all JSON."""
    app = await register(site.http, scopes="read write push")
    push_only = await password_token(site.http, app, scope="push")
    cases = [
        ({}, 401, "invalid_token"),
        ({"Authorization": "Bearer not-a-token"}, 401, "invalid_token"),
        ({"Authorization": "Basic abc"}, 401, "invalid_token"),
        (bearer(push_only), 403, "insufficient_scope"),
    ]
    for headers, status, code in cases:
        response = await site.http.get("/api/v1/accounts/verify_credentials", headers=headers)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.json()["code"] == code
        assert response.headers["www-authenticate"].startswith("Bearer")
    profile_only = await password_token(site.http, app, scope="read:accounts")
    me = await site.http.get("/api/v1/accounts/verify_credentials", headers=bearer(profile_only))
    assert me.status_code == 200


async def test_nothing_under_api_answers_html(site: Site) -> None:
    """Errors under /api/ are JSON: bad registrations, unknown paths, wrong methods."""
    responses = [
        await site.http.post("/api/v1/apps", data={"redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}),
        await site.http.post("/api/v1/apps", data={"client_name": "x", "redirect_uris": "nope"}),
        await site.http.post(
            "/api/v1/apps",
            json={"client_name": "x", "redirect_uris": "icecubesapp://", "scopes": "root"},
        ),
        await site.http.post(
            "/api/v1/apps",
            json={"client_name": "x", "redirect_uris": "icecubesapp://#frag"},
        ),
        await site.http.get("/api/v1/apps/verify_credentials"),
        await site.http.get("/api/v1/no_such_thing"),
        await site.http.delete("/api/v1/instance"),
        await site.http.post(
            "/api/v1/apps", content=b"[1]", headers={"Content-Type": "application/json"}
        ),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"] == "application/json", response.text
        assert isinstance(response.json()["error"], str)


async def test_metadata_advertises_the_endpoints(site: Site) -> None:
    """RFC 8414 metadata names our endpoints, S256, and the grants we accept."""
    response = await site.http.get("/.well-known/oauth-authorization-server")
    assert response.headers["access-control-allow-origin"] == "*"
    meta = response.json()
    base = site.base_url
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == base + "/oauth/authorize"
    assert meta["token_endpoint"] == base + "/oauth/token"
    assert meta["revocation_endpoint"] == base + "/oauth/revoke"
    assert meta["app_registration_endpoint"] == base + "/api/v1/apps"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "password",
    }
    assert {"read", "write", "follow", "push", "profile", "read:accounts"} <= set(
        meta["scopes_supported"]
    )
