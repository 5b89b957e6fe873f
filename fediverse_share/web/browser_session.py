"""The sign-in cookie of the instance's own pages, and the CSRF tokens bound to it.

The cookie holds ``<session id>.<user id or empty>.<issued at, seconds>.<HMAC>``,
signed with a key derived from ``settings.secret_key``; it is HttpOnly,
SameSite=Lax, and Secure with the ``__Host-`` prefix whenever the instance is
served over HTTPS. Every browser gets a random session id on its first visit,
and a new one when it signs in (no session fixation). A form's CSRF token is an
HMAC of that session id, so a page fetched by someone else carries a token that
is worthless in the member's browser (the signed double-submit cookie pattern).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from fediverse_share.errors import ConfigError, Forbidden
from fediverse_share.settings import Settings

SIGNED_IN_MAX_AGE_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True, slots=True)
class BrowserSession:
    session_id: str
    user_id: int | None
    issued_at_s: int


def _key(settings: Settings, purpose: str) -> bytes:
    if not settings.secret_key:
        raise ConfigError("secret_key is not set: sign-in pages need it")
    message = f"fediverse-share/{purpose}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).digest()


def _mac(settings: Settings, purpose: str, value: str) -> str:
    digest = hmac.new(_key(settings, purpose), value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def cookie_name(settings: Settings) -> str:
    return "__Host-fs_session" if settings.scheme == "https" else "fs_session"


def new_session(now_s: int, user_id: int | None = None) -> BrowserSession:
    return BrowserSession(secrets.token_urlsafe(18), user_id, now_s)


def render_session(session: BrowserSession, settings: Settings) -> str:
    user = "" if session.user_id is None else str(session.user_id)
    payload = f"{session.session_id}.{user}.{session.issued_at_s}"
    return f"{payload}.{_mac(settings, 'session', payload)}"


def parse_session(raw: str, settings: Settings, now_s: int) -> BrowserSession | None:
    """The session in a cookie value, or None if it is forged, malformed or expired."""
    payload, _, signature = raw.rpartition(".")
    if not hmac.compare_digest(_mac(settings, "session", payload), signature):
        return None
    parts = payload.split(".")
    if len(parts) != 3:
        return None
    session_id, user, issued = parts
    if not session_id or not issued.isdigit() or (user and not user.isdigit()):
        return None
    user_id = int(user) if user else None
    if user_id is not None and int(issued) + SIGNED_IN_MAX_AGE_SECONDS < now_s:
        return None
    return BrowserSession(session_id, user_id, int(issued))


def read_session(request: Request, settings: Settings, now_s: int) -> BrowserSession:
    """This browser's session; a new anonymous one if it has none (or a bad one)."""
    raw = request.cookies.get(cookie_name(settings))
    session = parse_session(raw, settings, now_s) if raw else None
    return session or new_session(now_s)


def set_session_cookie(response: Response, session: BrowserSession, settings: Settings) -> None:
    response.set_cookie(
        cookie_name(settings),
        render_session(session, settings),
        max_age=SIGNED_IN_MAX_AGE_SECONDS if session.user_id is not None else None,
        path="/",
        secure=settings.scheme == "https",
        httponly=True,
        samesite="lax",
    )


def csrf_token(session: BrowserSession, settings: Settings) -> str:
    return _mac(settings, "csrf", session.session_id)


def check_csrf(session: BrowserSession, settings: Settings, token: object) -> None:
    if not isinstance(token, str) or not hmac.compare_digest(csrf_token(session, settings), token):
        raise Forbidden(
            "This form has expired or did not come from this site: reload the page and try again",
            code="csrf_failed",
        )
