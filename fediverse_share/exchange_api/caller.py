"""Who is calling and what they sent: the checks and reads every handler starts with.

    runtime = runtime_of(request)
    member = await require_member(request, *READ)        # a member's token with a read scope
    admin = await require_admin(request, *ADMIN_WRITE)   # ... who is an operator
    body = await read_object(request)                    # a JSON object, size-capped
    key = idempotency_key(request, body)                 # header or ``id``; None if neither

Scopes are Mastodon's (`fediverse_share.oauth.scopes`): reads take ``read`` or
``read:accounts``, writes ``write``, operators' reads ``admin:read`` and their writes
``admin:write``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.errors import IdempotencyKeyMismatch, NotAdmin
from fediverse_share.members import Member, get_member_by_user_id
from fediverse_share.runtime import Runtime
from fediverse_share.web.auth import require_user
from fediverse_share.web.bodies import parse_json_object, read_body

READ = ("read", "read:accounts")
WRITE = ("write",)
ADMIN_READ = ("admin:read",)
ADMIN_WRITE = ("admin:write",)

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: What a client may choose as an idempotency key: UUIDs, ULIDs, base64url and the like.
KEY_PATTERN = r"^[A-Za-z0-9._~:-]{1,100}$"
_KEY = re.compile(KEY_PATTERN)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def require_member(request: Request, *scopes: str) -> Member:
    """The member a bearer token acts for, if it holds one of ``scopes``."""
    grant = await require_user(request, *scopes)
    return await runtime_of(request).db.read(get_member_by_user_id, grant.user_id)


async def require_admin(request: Request, *scopes: str) -> Member:
    """Like `require_member`, and the member must be one of the community's operators."""
    member = await require_member(request, *scopes)
    if not member.is_admin:
        raise NotAdmin("only the community's operators may do this")
    return member


async def read_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``)."""
    body = await read_body(request, runtime_of(request).settings.max_body_bytes)
    return parse_json_object(body) if body.strip() else {}


def check_key(value: object, where: str) -> str:
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise BadRequest(
            f"{where} is 1-100 characters: letters, digits and . _ ~ : -",
            code="invalid_idempotency_key",
        )
    return value


def idempotency_key(request: Request, body: dict[str, Any]) -> str | None:
    """The caller's key for this write: the header, or ``id`` in the body (they must agree)."""
    header = request.headers.get(IDEMPOTENCY_HEADER)
    from_header = None if header is None else check_key(header, IDEMPOTENCY_HEADER)
    from_body = None if body.get("id") is None else check_key(body["id"], "id")
    if from_header and from_body and from_header != from_body:
        raise IdempotencyKeyMismatch("the Idempotency-Key header and the id in the body differ")
    return from_header or from_body


def reject_unknown_fields(body: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest(f"unknown field: {', '.join(unknown)[:200]}", code="unknown_field")


def optional_str(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", code="invalid_request")
    return value


def required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"{name} is required and must be a string", code="invalid_request")
    return value
