"""The authorization code flow: consent page, redirects, PKCE, single-use and expiring codes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fediverse_share.clock import now_us
from fediverse_share.oauth import codes
from tests.web.oauth_client import (
    OOB,
    Site,
    authorize,
    bearer,
    code_on_page,
    code_query,
    member_site,
    pkce_pair,
    read_form,
    register,
    token_for_code,
)

IVORY = "com.tapbots.Ivory.10217:/request_token/6f1e0c3a-2b7d-4c4e-9d7e-0b5f1a2c3d4e"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with member_site(tmp_path) as site:
        yield site


async def test_oob_code_becomes_a_token_for_the_member(site: Site) -> None:
    """An out-of-band code, shown on a page, is exchanged for a token that acts as the member."""
    app = await register(site.http)
    page = await authorize(site.http, code_query(app))
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    response = await token_for_code(site.http, app, code_on_page(page.text))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read write follow push"
    me = await site.http.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(response.json()["access_token"])
    )
    assert me.status_code == 200
    assert me.json()["username"] == "alice"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "oauth2redirect://com.keylesspalace.tusky/",
        "icecubesapp://",
        IVORY,
        "org.joinmastodon.android-auth://callback",
        "https://elk.example/api/callback?server=x",
    ],
)
async def test_custom_scheme_redirect_gets_code_and_state_appended(
    site: Site, redirect_uri: str
) -> None:
    """The 302 goes to the registered URI exactly, with code and state appended to it."""
    app = await register(site.http, redirect_uris=[OOB, redirect_uri])
    response = await authorize(site.http, code_query(app, redirect_uri, state="s t&=ä"))
    assert response.status_code == 302
    location = response.headers["location"]
    separator = "&" if "?" in redirect_uri else "?"
    assert location.startswith(redirect_uri + separator + "code=")
    assert location.endswith("&state=s%20t%26%3D%C3%A4")
    code = re.search(r"[?&]code=([^&]+)", location)
    assert code is not None
    token = await token_for_code(site.http, app, code.group(1), redirect_uri)
    assert token.status_code == 200, token.text


async def test_trailing_slash_authorize_works(site: Site) -> None:
    """/oauth/authorize/ (as toot opens it) serves the same page and flow."""
    app = await register(site.http)
    page = await authorize(site.http, code_query(app), path="/oauth/authorize/")
    assert (await token_for_code(site.http, app, code_on_page(page.text))).status_code == 200


async def test_pkce_s256_right_and_wrong_verifier(site: Site) -> None:
    """With a code_challenge the code needs the matching verifier; a wrong or missing one fails."""
    app = await register(site.http)
    verifier, challenge = pkce_pair()
    query = code_query(app, code_challenge=challenge, code_challenge_method="S256")

    code = code_on_page((await authorize(site.http, query)).text)
    wrong = await token_for_code(site.http, app, code, code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"

    code = code_on_page((await authorize(site.http, query)).text)
    missing = await token_for_code(site.http, app, code)
    assert missing.json()["error"] == "invalid_grant"

    code = code_on_page((await authorize(site.http, query)).text)
    right = await token_for_code(site.http, app, code, code_verifier=verifier)
    assert right.status_code == 200, right.text


async def test_plain_pkce_is_refused(site: Site) -> None:
    """Only S256 is offered: a plain challenge goes back to the client as invalid_request."""
    app = await register(site.http, redirect_uris="icecubesapp://")
    query = code_query(
        app, "icecubesapp://", code_challenge="a" * 43, code_challenge_method="plain"
    )
    response = await site.http.get("/oauth/authorize", params=query)
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["location"]


async def test_a_code_works_once(site: Site) -> None:
    """A reused code is refused with invalid_grant."""
    app = await register(site.http)
    code = code_on_page((await authorize(site.http, code_query(app))).text)
    assert (await token_for_code(site.http, app, code)).status_code == 200
    again = await token_for_code(site.http, app, code)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code was already used",
    }


async def test_an_expired_code_is_refused(site: Site) -> None:
    """A code issued more than ten minutes ago no longer buys a token."""
    app = await register(site.http)
    request = codes.CodeRequest(int(app["id"]), site.member.user_id, OOB, ("read",))
    eleven_minutes_ago = now_us() - 11 * 60 * 1_000_000
    code = await site.instance.runtime.db.write(codes.issue_code, request, eleven_minutes_ago)
    response = await token_for_code(site.http, app, code)
    assert response.status_code == 400
    assert response.json()["error_description"] == "the authorization code has expired"


async def test_code_is_bound_to_its_app_and_redirect_uri(site: Site) -> None:
    """Another app, or another redirect_uri than the one authorized, cannot redeem the code."""
    app = await register(site.http, redirect_uris=[OOB, "icecubesapp://"])
    other = await register(site.http)
    code = code_on_page((await authorize(site.http, code_query(app))).text)
    assert (await token_for_code(site.http, other, code)).json()["error"] == "invalid_grant"
    mismatch = await token_for_code(site.http, app, code, "icecubesapp://")
    assert mismatch.json()["error"] == "invalid_grant"


async def test_unregistered_redirect_uri_is_never_redirected_to(site: Site) -> None:
    """An unknown client or a redirect_uri not registered exactly gets an error page, no 302."""
    app = await register(site.http, redirect_uris="icecubesapp://")
    for query in (
        code_query(app, "icecubesapp://evil"),
        code_query(app, "icecubesapp:/"),
        code_query({"client_id": "nope"}, "icecubesapp://"),
    ):
        response = await site.http.get("/oauth/authorize", params=query)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")


async def test_scope_escalation_is_refused(site: Site) -> None:
    """Asking for more than the app registered sends invalid_scope back, issues no code."""
    app = await register(site.http, redirect_uris="icecubesapp://", scopes="read")
    query = code_query(app, "icecubesapp://", state="x")
    response = await site.http.get("/oauth/authorize", params={**query, "scope": "read write"})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("icecubesapp://?error=invalid_scope&")
    assert location.endswith("&state=x")
    granular = await authorize(site.http, {**query, "scope": "read:accounts"})
    assert "code=" in granular.headers["location"]


async def test_deny_sends_access_denied(site: Site) -> None:
    """A member who denies sends the client access_denied, with its state."""
    app = await register(site.http, redirect_uris="icecubesapp://")
    query = code_query(app, "icecubesapp://", state="abc")
    response = await authorize(site.http, query, username=None, password=None, decision="deny")
    assert response.status_code == 302
    assert response.headers["location"].startswith("icecubesapp://?error=access_denied&")


async def test_wrong_password_shows_the_form_again(site: Site) -> None:
    """A wrong password gets the form back with an error and no code."""
    app = await register(site.http)
    response = await authorize(site.http, code_query(app), password="wrong")
    assert response.status_code == 401
    assert "Wrong username or password" in response.text
    assert "authorization-code" not in response.text


async def test_post_without_the_csrf_token_is_refused(site: Site) -> None:
    """A consent POST without the page's CSRF token (or from another browser) is a 403."""
    app = await register(site.http)
    page = await site.http.get("/oauth/authorize", params=code_query(app))
    action, fields = read_form(page.text)
    fields.update(username="alice", password="correct horse battery staple", decision="approve")
    forged = {k: v for k, v in fields.items() if k != "csrf_token"}
    assert (await site.http.post(action, data=forged)).status_code == 403
    site.http.cookies.clear()
    assert (await site.http.post(action, data=fields)).status_code == 403


async def test_signed_in_browser_consents_without_password_unless_force_login(
    site: Site,
) -> None:
    """After one sign-in the browser session suffices; force_login asks for the password again."""
    app = await register(site.http)
    await authorize(site.http, code_query(app))
    cookie = next(iter(site.http.cookies.jar))
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = await site.http.get("/oauth/authorize", params=code_query(app))
    _, fields = read_form(page.text)
    assert "password" not in fields
    assert "Signed in as" in page.text
    response = await authorize(site.http, code_query(app), username=None, password=None)
    assert (await token_for_code(site.http, app, code_on_page(response.text))).status_code == 200

    forced = await site.http.get("/oauth/authorize", params=code_query(app, force_login="true"))
    assert "password" in read_form(forced.text)[1]


async def test_a_tampered_session_cookie_is_ignored(site: Site) -> None:
    """A session cookie whose signature does not match counts as no session at all."""
    app = await register(site.http)
    await authorize(site.http, code_query(app))
    cookie = next(iter(site.http.cookies.jar))
    session_id, user_id, issued, signature = cookie.value.split(".")
    assert user_id == str(site.member.user_id)
    forged = f"{session_id}.{int(user_id) + 1}.{issued}.{signature}"
    site.http.cookies.clear()
    site.http.cookies.set(cookie.name, forged)
    page = await site.http.get("/oauth/authorize", params=code_query(app))
    assert "password" in read_form(page.text)[1]
    assert "Signed in as" not in page.text
