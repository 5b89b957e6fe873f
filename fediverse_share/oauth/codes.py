"""Authorization codes: issued by the consent page, redeemed once at the token endpoint.

A code is random, stored only as a digest, good for one redemption within
`CODE_TTL_SECONDS`, and bound to the app, the member, the redirect URI and the
scopes it was issued for. With PKCE (RFC 7636, S256 only) it is also bound to a
``code_challenge``; the token request must then bring the matching
``code_verifier``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from fediverse_share import tables
from fediverse_share.oauth.credentials import credential_digest, new_credential
from fediverse_share.oauth.errors import InvalidGrant, InvalidRequest

CODE_TTL_SECONDS = 600
#: A code that has been used or has expired is kept this long, then swept away.
_KEEP_SPENT_US = 24 * 3600 * 1_000_000
_PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """What a member approved on the consent page."""

    app_id: int
    user_id: int
    redirect_uri: str
    scopes: tuple[str, ...]
    code_challenge: str | None = None


@dataclass(frozen=True, slots=True)
class RedeemedCode:
    user_id: int
    scopes: tuple[str, ...]


def parse_code_challenge(challenge: str | None, method: str | None) -> str | None:
    """The S256 challenge of an authorization request, or None without PKCE."""
    if not challenge:
        if method:
            raise InvalidRequest("code_challenge_method without code_challenge")
        return None
    if method != "S256":
        # RFC 7636 makes "plain" the default; it protects nothing, so we only do S256.
        raise InvalidRequest("code_challenge_method must be S256")
    if not _PKCE_VALUE.fullmatch(challenge):
        raise InvalidRequest("code_challenge must be 43 to 128 URL-safe characters")
    return challenge


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_verifier(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier:
            # OAuth 2.1 §4.1.3: a verifier for a code issued without a challenge
            # could be a downgrade attempt.
            raise InvalidGrant("this code was issued without a code_challenge")
        return
    if not verifier or not _PKCE_VALUE.fullmatch(verifier):
        raise InvalidGrant("code_verifier is required and must be 43 to 128 characters")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")


def issue_code(
    conn: Connection, request: CodeRequest, now_us: int, ttl_seconds: int = CODE_TTL_SECONDS
) -> str:
    """Store a new code for ``request`` and return it (the only copy)."""
    codes = tables.oauth_codes
    conn.execute(delete(codes).where(codes.c.expires_at_us < now_us - _KEEP_SPENT_US))
    code = new_credential()
    conn.execute(
        insert(codes).values(
            code_hash=credential_digest(code),
            app_id=request.app_id,
            user_id=request.user_id,
            redirect_uri=request.redirect_uri,
            scopes=" ".join(request.scopes),
            code_challenge=request.code_challenge,
            expires_at_us=now_us + ttl_seconds * 1_000_000,
            used=False,
        )
    )
    return code


def redeem_code(
    conn: Connection,
    code: str,
    *,
    app_id: int,
    redirect_uri: str,
    code_verifier: str | None,
    now_us: int,
) -> RedeemedCode:
    """Spend ``code`` once; every mismatch is the same ``invalid_grant`` to the client."""
    codes = tables.oauth_codes
    digest = credential_digest(code)
    row = conn.execute(select(codes).where(codes.c.code_hash == digest)).mappings().first()
    if row is None or row["app_id"] != app_id:
        raise InvalidGrant("the authorization code is unknown")
    if row["used"]:
        raise InvalidGrant("the authorization code was already used")
    if row["expires_at_us"] <= now_us:
        raise InvalidGrant("the authorization code has expired")
    if row["redirect_uri"] != redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    _check_verifier(row["code_challenge"], code_verifier)
    # The `used = false` condition makes a concurrent second redemption update nothing.
    spent = conn.execute(
        update(codes).where(codes.c.code_hash == digest, codes.c.used.is_(False)).values(used=True)
    )
    if spent.rowcount != 1:
        raise InvalidGrant("the authorization code was already used")
    return RedeemedCode(row["user_id"], _split(row["scopes"]))


def _split(scopes: str) -> tuple[str, ...]:
    return tuple(scopes.split())
