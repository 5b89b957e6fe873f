"""Bearer tokens: issued by the token endpoint, checked on every API request.

A token is random, stored only as its SHA-256 digest (so finding it is one indexed
equality lookup), never expires (as in Mastodon and GoToSocial) and stops working
the moment it is revoked. A token without a member is an app token
(``client_credentials``). The grant a token carries is a `Grant`; API handlers get
one from `fediverse_share.web.auth`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, insert, select, text, update

from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.oauth import codes
from fediverse_share.oauth.apps import App
from fediverse_share.oauth.credentials import credential_digest, new_credential
from fediverse_share.oauth.errors import UnauthorizedClient, UserRequired
from fediverse_share.oauth.scopes import covers
from fediverse_share.runtime import Runtime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str = field(repr=False)
    scopes: tuple[str, ...]
    created_at_us: int


@dataclass(frozen=True, slots=True)
class UserGrant:
    """A grant that acts for a member."""

    token_id: int
    app_id: int
    user_id: int
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token allows: its app, its member if any, and its scopes."""

    token_id: int
    app_id: int
    user_id: int | None
    scopes: tuple[str, ...]

    def allows(self, *any_of: str) -> bool:
        """True if the token holds one of ``any_of`` (or a scope above it); ``()`` is any."""
        return not any_of or any(covers(self.scopes, scope) for scope in any_of)

    def for_user(self) -> UserGrant:
        if self.user_id is None:
            raise UserRequired("This method requires an authenticated user")
        return UserGrant(self.token_id, self.app_id, self.user_id, self.scopes)


def insert_token(
    conn: Connection,
    token_id: int,
    app_id: int,
    user_id: int | None,
    scopes: Sequence[str],
    created_at_us: int,
) -> IssuedToken:
    token = new_credential()
    conn.execute(
        insert(tables.oauth_tokens).values(
            id=token_id,
            token_hash=credential_digest(token),
            app_id=app_id,
            user_id=user_id,
            scopes=" ".join(scopes),
            created_at_us=created_at_us,
        )
    )
    return IssuedToken(token, tuple(scopes), created_at_us)


async def issue_token(
    runtime: Runtime, app: App, user_id: int | None, scopes: Sequence[str]
) -> IssuedToken:
    """A new token for ``app`` (and member ``user_id``, unless an app token)."""
    return await runtime.db.write(
        insert_token, runtime.ids.next_id(), app.app_id, user_id, scopes, now_us()
    )


def _exchange(
    conn: Connection,
    app: App,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    token_id: int,
    at_us: int,
) -> IssuedToken:
    redeemed = codes.redeem_code(
        conn,
        code,
        app_id=app.app_id,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        now_us=at_us,
    )
    return insert_token(conn, token_id, app.app_id, redeemed.user_id, redeemed.scopes, at_us)


async def exchange_code(
    runtime: Runtime,
    app: App,
    code: str,
    *,
    redirect_uri: str,
    code_verifier: str | None = None,
) -> IssuedToken:
    """Spend an authorization code and issue its token, in one transaction."""
    token_id = runtime.ids.next_id()
    return await runtime.db.write(
        _exchange, app, code, redirect_uri, code_verifier, token_id, now_us()
    )


#: The check every API request makes. Plain SQL because building the same query with
#: SQLAlchemy's expression language costs ~100 µs of Python per call against ~30 µs
#: for this (bench/token_check.py); the SQL is the same on SQLite and PostgreSQL.
_FIND_GRANT = """
SELECT t.id, t.app_id, t.user_id, t.scopes
FROM oauth_tokens t LEFT OUTER JOIN users u ON u.id = t.user_id
WHERE t.token_hash = :digest AND t.revoked_at_us IS NULL
  AND (t.user_id IS NULL OR u.disabled = :disabled)
"""


def find_grant(conn: Connection, token: str) -> Grant | None:
    """The grant of a live token: not revoked, and its member (if any) not disabled."""
    params = {"digest": credential_digest(token), "disabled": False}
    row = conn.execute(text(_FIND_GRANT), params).first()
    if row is None:
        return None
    return Grant(row.id, row.app_id, row.user_id, tuple(row.scopes.split()))


def revoke_token(conn: Connection, app_id: int, token: str, at_us: int) -> None:
    """Revoke ``token`` if ``app_id`` holds it; an unknown token is not an error (RFC 7009)."""
    t = tables.oauth_tokens
    digest = credential_digest(token)
    owner = conn.execute(select(t.c.app_id).where(t.c.token_hash == digest)).scalar()
    if owner is None:
        return
    if owner != app_id:
        raise UnauthorizedClient("this token was not issued to this client")
    conn.execute(
        update(t)
        .where(t.c.token_hash == digest, t.c.revoked_at_us.is_(None))
        .values(revoked_at_us=at_us)
    )
