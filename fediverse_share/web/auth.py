"""The bearer-token check every API handler uses.

    grant = await require_token(request, "read:statuses")        # any valid token
    member = await require_user(request, "write:statuses")       # a member's token
    grant = await optional_token(request, "read:statuses")       # None if anonymous

Scopes are alternatives: ``require_user(request, "profile", "read:accounts")``
accepts a token holding either (or a scope above one, such as ``read``); naming
none accepts any valid token. A missing, unknown or revoked token is a 401, a
token without the scope a 403, an app token where a member is needed a 422 (as
Mastodon answers), all as JSON with an RFC 6750 ``WWW-Authenticate`` challenge.

Each check is one indexed read by the token's digest and nothing is cached
between requests, so a revoked token stops working at once, in every process.
The grant is kept on ``request.state`` for the rest of the request.
"""

from __future__ import annotations

from starlette.requests import Request

from fediverse_share.oauth import tokens
from fediverse_share.oauth.errors import InsufficientScope, InvalidToken, MissingToken
from fediverse_share.oauth.tokens import Grant, UserGrant
from fediverse_share.runtime import Runtime

_MAX_TOKEN_LENGTH = 512


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None if there is none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidToken("The access token is invalid")
    return value.strip()


async def _grant(request: Request, token: str) -> Grant:
    cached: Grant | None = getattr(request.state, "oauth_grant", None)
    if cached is not None:
        return cached
    runtime: Runtime = request.app.state.runtime
    grant = (
        await runtime.db.read(tokens.find_grant, token) if len(token) <= _MAX_TOKEN_LENGTH else None
    )
    if grant is None:
        raise InvalidToken("The access token is invalid")
    request.state.oauth_grant = grant
    return grant


def _check_scopes(grant: Grant, scopes: tuple[str, ...]) -> Grant:
    if not grant.allows(*scopes):
        raise InsufficientScope("This action is outside the authorized scopes")
    return grant


async def optional_token(request: Request, *scopes: str) -> Grant | None:
    """The caller's grant, or None without an Authorization header; a bad token is a 401."""
    token = bearer_token(request)
    if token is None:
        return None
    return _check_scopes(await _grant(request, token), scopes)


async def require_token(request: Request, *scopes: str) -> Grant:
    """The caller's grant, holding one of ``scopes``; app tokens are accepted."""
    grant = await optional_token(request, *scopes)
    if grant is None:
        raise MissingToken("The access token is missing")
    return grant


async def require_user(request: Request, *scopes: str) -> UserGrant:
    """Like `require_token`, but the token must act for a member."""
    return (await require_token(request, *scopes)).for_user()
