"""Mastodon.py, a real third-party client, signs in and reads the member's account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mastodon import Mastodon, MastodonUnauthorizedError

from tests.web.oauth_client import PASSWORD, Site, code_on_page, member_site, read_form

SCOPES = ["read", "write", "follow", "push"]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with member_site(tmp_path) as site:
        yield site


async def _client(site: Site) -> Mastodon:
    """An app registered by Mastodon.py (form POST, out-of-band redirect)."""
    client_id, client_secret = await asyncio.to_thread(
        Mastodon.create_app, "Mastodon.py test", scopes=SCOPES, api_base_url=site.base_url
    )
    return Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        api_base_url=site.base_url,
        version_check_mode="none",
    )


async def test_mastodon_py_password_grant(site: Site) -> None:
    """create_app, log_in(username, password), verify_credentials, then revoke."""
    api = await _client(site)
    await asyncio.to_thread(api.log_in, "alice", PASSWORD, scopes=SCOPES, allow_http=True)
    me = await asyncio.to_thread(api.account_verify_credentials)
    assert me.username == "alice"
    assert me.acct == "alice"
    assert str(me.id) == str(site.member.actor_id)
    assert me.source.privacy == "public"

    await asyncio.to_thread(api.revoke_access_token, allow_http=True)
    stale = Mastodon(access_token=await _stale_token(site), api_base_url=site.base_url)
    with pytest.raises(MastodonUnauthorizedError):
        await asyncio.to_thread(stale.account_verify_credentials)


async def _stale_token(site: Site) -> str:
    api = await _client(site)
    token: str = await asyncio.to_thread(api.log_in, "alice", PASSWORD, allow_http=True)
    await asyncio.to_thread(api.revoke_access_token, allow_http=True)
    return token


async def test_mastodon_py_code_flow_out_of_band(site: Site) -> None:
    """auth_request_url with oob → the member approves in the browser → log_in(code=…)."""
    api = await _client(site)
    url = await asyncio.to_thread(api.auth_request_url, scopes=SCOPES, allow_http=True)
    assert url.startswith(site.base_url + "/oauth/authorize?")

    page = await site.http.get(url)
    action, fields = read_form(page.text)
    fields.update(username="alice", password=PASSWORD, decision="approve")
    shown = await site.http.post(action, data=fields)
    assert shown.status_code == 200

    await asyncio.to_thread(
        api.log_in, code=code_on_page(shown.text), scopes=SCOPES, allow_http=True
    )
    me = await asyncio.to_thread(api.account_verify_credentials)
    assert me.username == "alice"
    app = await asyncio.to_thread(api.app_verify_credentials)
    assert app.name == "Mastodon.py test"


async def test_mastodon_py_reads_the_instance(site: Site) -> None:
    """Mastodon.py reads both instance documents and finds the compatible version."""
    api = Mastodon(api_base_url=site.base_url, version_check_mode="none")
    v1 = await asyncio.to_thread(api.instance_v1)
    assert v1.uri == site.instance.domain
    v2 = await asyncio.to_thread(api.instance_v2)
    assert v2.api_versions.mastodon == 1
    version = await asyncio.to_thread(api.retrieve_mastodon_version)
    assert str(version).startswith("4.2.0")
