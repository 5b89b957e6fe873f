"""The authorization endpoint (``/oauth/authorize``): the sign-in and consent page.

GET shows the page; POST signs the member in (or uses their signed-in browser
session, unless ``force_login``), and on approval issues a code: a 302 to the
registered redirect URI with ``code`` and ``state`` appended by string
concatenation (custom schemes such as ``icecubesapp://`` or
``com.tapbots.Ivory.10217:/request_token/…`` survive untouched), or, for
``urn:ietf:wg:oauth:2.0:oob``, a page that shows the code.

As RFC 6749 §4.1.2.1 requires, an unknown client or a redirect URI that is not
registered character for character gets an error page and never a redirect;
every later error goes back to the client as ``error=…`` on its redirect URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_share import members, tables
from fediverse_share.clock import now_us
from fediverse_share.errors import Forbidden
from fediverse_share.oauth import apps, codes, scopes
from fediverse_share.oauth.apps import App
from fediverse_share.oauth.errors import AccessDenied, OAuthError, UnsupportedResponseType
from fediverse_share.runtime import Runtime
from fediverse_share.web import browser_session, pages
from fediverse_share.web.bodies import read_params
from fediverse_share.web.browser_session import BrowserSession

#: The consent page must not be framed (clickjacking), cached or leak its URL.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}
_TRUE = frozenset({"1", "true", "yes", "on"})
SCOPE_DESCRIPTIONS = {
    "read": "read everything in your account: posts, timelines, followers, notifications",
    "write": "post, edit and delete, follow, favourite and change your profile for you",
    "follow": "follow, block and mute accounts for you",
    "push": "receive push notifications for you",
    "profile": "see only your profile (who you are)",
}


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    app: App
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    force_login: bool

    def hidden_fields(self) -> dict[str, str]:
        """The request, carried through the form so that POST can check it again."""
        fields = {
            "response_type": "code",
            "client_id": self.app.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": scopes.render_scopes(self.scopes),
        }
        if self.state is not None:
            fields["state"] = self.state
        if self.code_challenge is not None:
            fields["code_challenge"] = self.code_challenge
            fields["code_challenge_method"] = "S256"
        if self.force_login:
            fields["force_login"] = "true"
        return fields


class _PageError(Exception):
    """A failure shown on a page, never sent to the redirect URI."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) and value != "" else None


def login_name(raw: str) -> str:
    """A username as members type it: ``name``, ``@name`` or ``name@domain``."""
    return raw.strip().lstrip("@").split("@", 1)[0]


async def _client_and_redirect(runtime: Runtime, params: dict[str, Any]) -> tuple[App, str]:
    client_id = _text(params, "client_id")
    app = await runtime.db.read(apps.find_app, client_id) if client_id else None
    if app is None:
        raise _PageError(400, "This app is not registered here (unknown client_id).")
    redirect_uri = _text(params, "redirect_uri")
    if redirect_uri is None and len(app.redirect_uris) == 1:
        redirect_uri = app.redirect_uris[0]
    if redirect_uri not in app.redirect_uris:
        raise _PageError(400, "The redirect_uri is not one this app registered.")
    return app, redirect_uri


def _parse_request(app: App, redirect_uri: str, params: dict[str, Any]) -> AuthorizationRequest:
    if _text(params, "response_type") != "code":
        raise UnsupportedResponseType("response_type must be code")
    wanted = scopes.parse_scopes(_text(params, "scope"))
    scopes.check_within(wanted, app.scopes)
    challenge = codes.parse_code_challenge(
        _text(params, "code_challenge"), _text(params, "code_challenge_method")
    )
    force_login = (_text(params, "force_login") or "").lower() in _TRUE
    state = params.get("state") if isinstance(params.get("state"), str) else None
    return AuthorizationRequest(app, redirect_uri, wanted, state, challenge, force_login)


def _location(redirect_uri: str, pairs: list[tuple[str, str]]) -> str:
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in pairs)
    if redirect_uri.endswith(("?", "&")):
        return redirect_uri + query
    return redirect_uri + ("&" if "?" in redirect_uri else "?") + query


def _redirect(redirect_uri: str, pairs: list[tuple[str, str]], state: object) -> Response:
    if isinstance(state, str):
        pairs = [*pairs, ("state", state)]
    headers = {"Location": _location(redirect_uri, pairs), "Cache-Control": "no-store"}
    return Response(status_code=302, headers=headers)


def _refuse(request: Request, redirect_uri: str, error: OAuthError, state: object) -> Response:
    if redirect_uri == apps.OOB:
        return _error_page(request, _PageError(error.status, error.message))
    pairs = [("error", error.code), ("error_description", error.message)]
    return _redirect(redirect_uri, pairs, state)


def _error_page(request: Request, error: _PageError) -> Response:
    html = pages.render(request, "oauth_error.html", message=error.message)
    return HTMLResponse(html, status_code=error.status, headers=_PAGE_HEADERS)


def _scope_rows(wanted: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": s, "description": SCOPE_DESCRIPTIONS.get(s, s)} for s in wanted]


def _form(
    request: Request,
    auth: AuthorizationRequest,
    session: BrowserSession,
    member: members.Member | None,
    *,
    error: str = "",
    username: str = "",
    status: int = 200,
) -> Response:
    settings = _runtime(request).settings
    html = pages.render(
        request,
        "oauth_authorize.html",
        app=auth.app,
        scopes=_scope_rows(auth.scopes),
        member=member,
        error=error,
        username=username,
        action=request.url.path,
        hidden=auth.hidden_fields(),
        csrf_token=browser_session.csrf_token(session, settings),
    )
    response = HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)
    browser_session.set_session_cookie(response, session, settings)
    return response


def _active_member(conn: Connection, user_id: int) -> members.Member | None:
    u = tables.users
    disabled = conn.execute(select(u.c.disabled).where(u.c.id == user_id)).scalar()
    return None if disabled is None or disabled else members.get_member_by_user_id(conn, user_id)


async def _session_member(runtime: Runtime, session: BrowserSession) -> members.Member | None:
    if session.user_id is None:
        return None
    return await runtime.db.read(_active_member, session.user_id)


async def _start(request: Request, params: dict[str, Any]) -> AuthorizationRequest | Response:
    """The checked request, or the response that refuses it."""
    runtime = _runtime(request)
    try:
        app, redirect_uri = await _client_and_redirect(runtime, params)
    except _PageError as exc:
        return _error_page(request, exc)
    try:
        return _parse_request(app, redirect_uri, params)
    except OAuthError as exc:
        return _refuse(request, redirect_uri, exc, params.get("state"))


async def authorize_page(request: Request) -> Response:
    runtime = _runtime(request)
    params = await read_params(request, runtime.settings.max_body_bytes)
    auth = await _start(request, params)
    if isinstance(auth, Response):
        return auth
    session = browser_session.read_session(request, runtime.settings, now_us() // 1_000_000)
    member = None if auth.force_login else await _session_member(runtime, session)
    return _form(request, auth, session, member)


async def _sign_in(
    runtime: Runtime, auth: AuthorizationRequest, session: BrowserSession, params: dict[str, Any]
) -> tuple[members.Member | None, BrowserSession]:
    """The approving member: from the typed password, else the browser's session."""
    username, password = _text(params, "username"), _text(params, "password")
    if username is not None and password is not None:
        member = await members.authenticate(runtime, login_name(username), password)
        if member is None:
            return None, session
        # A new session id on sign-in, so a planted cookie cannot ride along.
        return member, browser_session.new_session(now_us() // 1_000_000, member.user_id)
    if auth.force_login:
        return None, session
    return await _session_member(runtime, session), session


async def authorize_decision(request: Request) -> Response:
    runtime = _runtime(request)
    params = await read_params(request, runtime.settings.max_body_bytes)
    now_s = now_us() // 1_000_000
    session = browser_session.read_session(request, runtime.settings, now_s)
    try:
        browser_session.check_csrf(session, runtime.settings, params.get("csrf_token"))
    except Forbidden as exc:
        return _error_page(request, _PageError(403, exc.message))
    auth = await _start(request, params)
    if isinstance(auth, Response):
        return auth
    if params.get("decision") == "deny":
        denied = AccessDenied("The member refused to authorize the app")
        return _refuse(request, auth.redirect_uri, denied, auth.state)
    member, session = await _sign_in(runtime, auth, session, params)
    if member is None:
        message = "Wrong username or password." if "password" in params else "Please sign in."
        username = _text(params, "username") or ""
        return _form(request, auth, session, None, error=message, username=username, status=401)
    response = await _issue(request, auth, member)
    browser_session.set_session_cookie(response, session, runtime.settings)
    return response


async def _issue(request: Request, auth: AuthorizationRequest, member: members.Member) -> Response:
    runtime = _runtime(request)
    approved = codes.CodeRequest(
        auth.app.app_id, member.user_id, auth.redirect_uri, auth.scopes, auth.code_challenge
    )
    code = await runtime.db.write(codes.issue_code, approved, now_us())
    if auth.redirect_uri != apps.OOB:
        return _redirect(auth.redirect_uri, [("code", code)], auth.state)
    html = pages.render(
        request,
        "oauth_code.html",
        app=auth.app,
        code=code,
        ttl_minutes=codes.CODE_TTL_SECONDS // 60,
    )
    return HTMLResponse(html, headers=_PAGE_HEADERS)


def routes() -> list[BaseRoute]:
    return [
        Route(path, endpoint, methods=[method])
        for path in ("/oauth/authorize", "/oauth/authorize/")
        for method, endpoint in (("GET", authorize_page), ("POST", authorize_decision))
    ]
