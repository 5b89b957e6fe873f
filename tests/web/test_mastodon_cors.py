"""CORS as Mastodon's ``config/initializers/cors.rb`` has it, beyond ``/api/``: any
origin for ``/oauth/token`` and ``/oauth/revoke`` (POST) and for ``/.well-known/*``
and ``/nodeinfo/*`` (GET), any request headers, and nothing elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import running_instance
from tests.support.mastodon_client import PASSWORD, Site

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORIGIN = "https://elk.zone"
ASKED_HEADERS = "authorization, content-type, x-requested-with"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("cors")
    async with (
        running_instance("cors", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


async def _preflight(site: Site, path: str, method: str) -> httpx.Response:
    return await site.http.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": ASKED_HEADERS,
        },
    )


def _allowed(response: httpx.Response, methods: str) -> None:
    """A preflight that lets the browser go on: any origin, the resource's methods."""
    assert response.status_code in (200, 204), response.status_code
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == methods
    assert response.headers["access-control-allow-headers"] == ASKED_HEADERS
    assert response.headers["access-control-max-age"] == "7200"
    assert "access-control-allow-credentials" not in response.headers


def _refused(response: httpx.Response) -> None:
    """A preflight (or answer) without CORS headers: the browser stops there."""
    assert not [name for name in response.headers if name.startswith("access-control-")]


async def test_oauth_token_and_revoke_allow_post_from_any_origin(site: Site) -> None:
    """/oauth/token and /oauth/revoke: POST preflights pass, answers (errors too) allow *."""
    await site.member("ann")
    for path in ("/oauth/token", "/oauth/revoke"):
        _allowed(await _preflight(site, path, "POST"), "POST")
        _refused(await _preflight(site, path, "GET"))
        _refused(await _preflight(site, path, "DELETE"))

    form = {
        "grant_type": "password",
        "client_id": site.app["client_id"],
        "client_secret": site.app["client_secret"],
        "username": "ann",
        "password": PASSWORD,
        "scope": "read",
    }
    granted = await site.http.post("/oauth/token", data=form, headers={"Origin": ORIGIN})
    assert granted.status_code == 200 and granted.json()["token_type"] == "Bearer"
    assert granted.headers["access-control-allow-origin"] == "*"
    assert granted.headers["access-control-allow-methods"] == "POST"
    assert "access-control-expose-headers" not in granted.headers  # Link is /api/ only
    wrong = {**form, "password": "not it"}
    refused = await site.http.post("/oauth/token", data=wrong, headers={"Origin": ORIGIN})
    assert refused.status_code in (400, 401) and "error" in refused.json()
    assert refused.headers["access-control-allow-origin"] == "*"
    revoked = await site.http.post(
        "/oauth/revoke",
        data={**{k: form[k] for k in ("client_id", "client_secret")},
              "token": granted.json()["access_token"]},
        headers={"Origin": ORIGIN},
    )  # fmt: skip
    assert revoked.status_code == 200 and revoked.headers["access-control-allow-origin"] == "*"


async def test_well_known_and_nodeinfo_allow_get_from_any_origin(site: Site) -> None:
    """nodeinfo, webfinger, host-meta and OAuth metadata: GET preflights pass, answers allow *."""
    await site.member("ben")
    webfinger = f"/.well-known/webfinger?resource=acct:ben@{site.instance.domain}"
    paths = [
        "/.well-known/nodeinfo",
        webfinger,
        "/.well-known/host-meta",
        "/.well-known/oauth-authorization-server",
        "/nodeinfo/2.0",
    ]
    for path in paths:
        _allowed(await _preflight(site, path, "GET"), "GET")
        _refused(await _preflight(site, path, "POST"))
        answer = await site.http.get(path, headers={"Origin": ORIGIN})
        assert answer.status_code == 200, (path, answer.status_code)
        assert answer.headers["access-control-allow-origin"] == "*", path
        assert answer.headers["access-control-allow-methods"] == "GET", path
        assert "access-control-allow-credentials" not in answer.headers
    links = (await site.http.get("/.well-known/nodeinfo")).json()["links"]
    assert any(link["href"].endswith("/nodeinfo/2.0") for link in links)
    missing = await site.http.get("/.well-known/webfinger", headers={"Origin": ORIGIN})
    assert missing.status_code == 400
    assert missing.headers["access-control-allow-origin"] == "*"


async def test_api_allows_any_headers_and_other_paths_get_no_cors(site: Site) -> None:
    """/api/ preflights echo any asked headers; /oauth/authorize and post pages get none."""
    _allowed(
        await _preflight(site, "/api/v1/statuses", "POST"),
        "POST, PUT, DELETE, GET, PATCH, OPTIONS",
    )
    actor = await site.http.get("/users/cors_community", headers={"Origin": ORIGIN})
    assert actor.headers["access-control-allow-origin"] == "*"
    for path in ("/oauth/authorize", "/@cors_community/1", "/oauth/tokens"):
        _refused(await _preflight(site, path, "GET"))
        _refused(await site.http.get(path, headers={"Origin": ORIGIN}))
