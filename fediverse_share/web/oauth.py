"""OAuth routes for Mastodon clients: app registration, the token and revocation
endpoints, and the RFC 8414 metadata. The HTML authorization page is in
`fediverse_share.web.oauth_authorize`.

The token and revocation endpoints answer errors in RFC 6749's own shape,
``{"error": "invalid_grant", "error_description": "…"}``, as OAuth libraries
expect; the rest answer like every other API.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_share import members
from fediverse_share.clock import now_us
from fediverse_share.errors import AppError
from fediverse_share.mastodon import entities
from fediverse_share.oauth import apps, scopes, tokens
from fediverse_share.oauth.apps import App
from fediverse_share.oauth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    OAuthError,
    UnsupportedGrantType,
)
from fediverse_share.oauth.tokens import IssuedToken
from fediverse_share.runtime import Runtime
from fediverse_share.web import oauth_authorize
from fediverse_share.web.auth import require_token
from fediverse_share.web.bodies import read_params

#: RFC 6749 §5.1: token responses must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: The password grant is kept for scripts and Mastodon.py (Mastodon dropped it in
#: 4.4). Mastodon.py refuses it unless the metadata lists it, so it is listed.
GRANT_TYPES = ("authorization_code", "client_credentials", "password")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value != "" else None


async def register_app(request: Request) -> Response:
    runtime = _runtime(request)
    params = await read_params(request, runtime.settings.max_body_bytes)
    registered = await apps.register_app(
        runtime,
        apps.parse_client_name(params.get("client_name")),
        apps.parse_redirect_uris(params.get("redirect_uris")),
        scopes.parse_scopes(params.get("scopes")),
        apps.parse_website(params.get("website")),
    )
    return JSONResponse(entities.render_credential_application(registered))


async def verify_app(request: Request) -> Response:
    grant = await require_token(request)
    runtime = _runtime(request)
    app = await runtime.db.read(apps.get_app_by_id, grant.app_id)
    return JSONResponse(entities.render_application(app))


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 §2.3.1: both halves are form-urlencoded before being joined.
    return unquote_plus(client_id), unquote_plus(secret)


async def _client(request: Request, params: dict[str, Any]) -> App:
    """The calling app, authenticated by HTTP Basic or by the body (client_secret_post)."""
    basic = _basic_credentials(request)
    client_id, secret = basic or (_text(params, "client_id"), _text(params, "client_secret"))
    if not client_id or not secret:
        raise InvalidClient("client_id and client_secret are required")
    return await apps.authenticate_client(_runtime(request), client_id, secret)


async def _authorization_code(runtime: Runtime, app: App, params: dict[str, Any]) -> IssuedToken:
    code = _text(params, "code")
    redirect_uri = _text(params, "redirect_uri")
    if code is None or redirect_uri is None:
        raise InvalidRequest("code and redirect_uri are required")
    return await tokens.exchange_code(
        runtime,
        app,
        code,
        redirect_uri=redirect_uri,
        code_verifier=_text(params, "code_verifier"),
    )


async def _password(runtime: Runtime, app: App, params: dict[str, Any]) -> IssuedToken:
    username, password = _text(params, "username"), _text(params, "password")
    if username is None or password is None:
        raise InvalidRequest("username and password are required")
    wanted = scopes.parse_scopes(params.get("scope"))
    scopes.check_within(wanted, app.scopes)
    member = await members.authenticate(runtime, oauth_authorize.login_name(username), password)
    if member is None:
        raise InvalidGrant("the username or password is wrong")
    return await tokens.issue_token(runtime, app, member.user_id, wanted)


async def _client_credentials(runtime: Runtime, app: App, params: dict[str, Any]) -> IssuedToken:
    wanted = scopes.parse_scopes(params.get("scope"))
    scopes.check_within(wanted, app.scopes)
    return await tokens.issue_token(runtime, app, None, wanted)


_GRANTS = {
    "authorization_code": _authorization_code,
    "password": _password,
    "client_credentials": _client_credentials,
}


async def token(request: Request) -> Response:
    try:
        runtime = _runtime(request)
        params = await read_params(request, runtime.settings.max_body_bytes)
        app = await _client(request, params)
        grant = _GRANTS.get(_text(params, "grant_type") or "")
        if grant is None:
            raise UnsupportedGrantType("grant_type must be one of: " + ", ".join(GRANT_TYPES))
        issued = await grant(runtime, app, params)
    except AppError as exc:
        return oauth_error_response(request, exc)
    return JSONResponse(entities.render_token(issued), headers=_NO_STORE)


async def revoke(request: Request) -> Response:
    """RFC 7009: ``{}`` whether or not the token existed; a token of another app is refused."""
    try:
        runtime = _runtime(request)
        params = await read_params(request, runtime.settings.max_body_bytes)
        app = await _client(request, params)
        value = _text(params, "token")
        if value is None:
            raise InvalidRequest("token is required")
        await runtime.db.write(tokens.revoke_token, app.app_id, value, now_us())
    except AppError as exc:
        return oauth_error_response(request, exc)
    return JSONResponse({})


def oauth_error_response(request: Request, exc: AppError) -> Response:
    """RFC 6749 §5.2 error JSON; a Basic-authenticated client failing gets a challenge."""
    code = exc.code if isinstance(exc, OAuthError) else "invalid_request"
    headers = dict(_NO_STORE)
    if isinstance(exc, InvalidClient) and _uses_basic(request):
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    body = {"error": code, "error_description": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _uses_basic(request: Request) -> bool:
    return request.headers.get("authorization", "").strip().lower().startswith("basic ")


async def metadata(request: Request) -> Response:
    """RFC 8414 authorization server metadata, as Mastodon 4.3 publishes it."""
    base = _runtime(request).instance.base_url
    return JSONResponse(
        {
            "issuer": base,
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "scopes_supported": [
                *scopes.TOP_LEVEL,
                *sorted(scopes.KNOWN_SCOPES - set(scopes.TOP_LEVEL)),
            ],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(GRANT_TYPES),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/apps", register_app, methods=["POST"]),
        Route("/api/v1/apps/verify_credentials", verify_app),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", metadata),
        *oauth_authorize.routes(),
    ]
