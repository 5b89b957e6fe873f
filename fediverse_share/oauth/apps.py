"""Client applications: registration (``POST /api/v1/apps``) and client authentication.

An app has a public ``client_id`` and a ``client_secret`` that is shown once, at
registration, and stored only as a digest. Redirect URIs are kept exactly as
registered, because the authorization request must match one of them character
for character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, RowMapping, insert, select

from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest, NotFound
from fediverse_share.oauth import scopes as scope_rules
from fediverse_share.oauth.credentials import credential_digest, new_credential, same_credential
from fediverse_share.oauth.errors import InvalidClient
from fediverse_share.runtime import Runtime

#: The out-of-band redirect: the code is shown on a page for the member to copy.
OOB = "urn:ietf:wg:oauth:2.0:oob"
MAX_NAME_LENGTH = 255
MAX_URI_LENGTH = 2000
MAX_REDIRECT_URIS = 20
# An absolute URI: a scheme, a colon, then printable ASCII without spaces. Custom
# schemes (``icecubesapp://``, ``com.tapbots.Ivory.10217:/request_token/…``) are
# the norm for mobile clients, so the scheme is not limited to http(s).
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]+")


@dataclass(frozen=True, slots=True)
class App:
    app_id: int
    client_id: str
    name: str
    website: str | None
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at_us: int


@dataclass(frozen=True, slots=True)
class RegisteredApp:
    """An app just registered, with the only copy of its secret."""

    app: App
    client_secret: str = field(repr=False)


def parse_redirect_uris(raw: object) -> tuple[str, ...]:
    """Redirect URIs given as a string, a newline-separated string or a list."""
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else None
    if items is None or not all(isinstance(item, str) for item in items):
        raise BadRequest("redirect_uris must be a string or a list of strings")
    uris = [line.strip() for item in items for line in str(item).splitlines() if line.strip()]
    if not uris:
        raise BadRequest("redirect_uris is required")
    if len(uris) > MAX_REDIRECT_URIS:
        raise BadRequest(f"at most {MAX_REDIRECT_URIS} redirect_uris")
    for uri in uris:
        _check_redirect_uri(uri)
    return tuple(dict.fromkeys(uris))


def _check_redirect_uri(uri: str) -> None:
    if len(uri) > MAX_URI_LENGTH or not _ABSOLUTE_URI.fullmatch(uri):
        raise BadRequest(f"redirect_uris must be absolute URIs: {uri[:100]!r}")
    if "#" in uri:
        raise BadRequest("redirect_uris must not have a fragment (RFC 6749 §3.1.2)")


def parse_client_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest("client_name is required")
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"client_name is longer than {MAX_NAME_LENGTH} characters")
    return name


def parse_website(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not raw.startswith(("https://", "http://")):
        raise BadRequest("website must be an http(s) URL")
    if len(raw) > MAX_URI_LENGTH:
        raise BadRequest(f"website is longer than {MAX_URI_LENGTH} characters")
    return raw


def _app(row: RowMapping) -> App:
    return App(
        app_id=row["id"],
        client_id=row["client_id"],
        name=row["name"],
        website=row["website"],
        redirect_uris=tuple(row["redirect_uris"].split("\n")),
        scopes=tuple(row["scopes"].split()),
        created_at_us=row["created_at_us"],
    )


def insert_app(conn: Connection, app: App, secret_digest: bytes) -> None:
    conn.execute(
        insert(tables.oauth_apps).values(
            id=app.app_id,
            client_id=app.client_id,
            client_secret_hash=secret_digest,
            name=app.name,
            website=app.website,
            redirect_uris="\n".join(app.redirect_uris),
            scopes=scope_rules.render_scopes(app.scopes),
            created_at_us=app.created_at_us,
        )
    )


async def register_app(
    runtime: Runtime,
    name: str,
    redirect_uris: Sequence[str],
    scopes: Sequence[str] = scope_rules.DEFAULT_SCOPES,
    website: str | None = None,
) -> RegisteredApp:
    """Register a client; the returned secret is never shown again."""
    secret = new_credential()
    app = App(
        app_id=runtime.ids.next_id(),
        client_id=new_credential(),
        name=name,
        website=website,
        redirect_uris=tuple(redirect_uris),
        scopes=tuple(scopes),
        created_at_us=now_us(),
    )
    await runtime.db.write(insert_app, app, credential_digest(secret))
    return RegisteredApp(app, secret)


def _find_row(conn: Connection, client_id: str) -> RowMapping | None:
    query = select(tables.oauth_apps).where(tables.oauth_apps.c.client_id == client_id)
    return conn.execute(query).mappings().first()


def find_app(conn: Connection, client_id: str) -> App | None:
    row = _find_row(conn, client_id)
    return None if row is None else _app(row)


def get_app_by_id(conn: Connection, app_id: int) -> App:
    query = select(tables.oauth_apps).where(tables.oauth_apps.c.id == app_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound("no such application")
    return _app(row)


async def authenticate_client(runtime: Runtime, client_id: str, client_secret: str) -> App:
    """The app whose id and secret these are; `InvalidClient` otherwise."""
    row = await runtime.db.read(_find_row, client_id) if client_id else None
    # Compare against a digest even when the client is unknown, so that the
    # answer takes as long either way.
    stored = row["client_secret_hash"] if row is not None else b"\0" * 32
    if not same_credential(client_secret, bytes(stored)) or row is None:
        raise InvalidClient("client authentication failed")
    return _app(row)
