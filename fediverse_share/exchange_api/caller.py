"""Who is calling and what they sent: the checks and reads every handler starts with.

    runtime = runtime_of(request)
    member = await require_member(request, *READ)        # a member's token with a read scope
    admin = await require_admin(request, *ADMIN_WRITE)   # ... who is an operator
    body = await read_object(request)                    # a JSON object, size-capped
    body = await read_admin_write(request, FIELDS)       # all of that, for an operator
    trade_id = path_param(request, "trade_id")           # never a NUL character
    key = idempotency_key(request, body)                 # header or ``id``; None if neither

Scopes are Mastodon's (`fediverse_share.oauth.scopes`): reads take ``read`` or
``read:accounts``, writes ``write``, operators' reads ``admin:read`` and their writes
``admin:write``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from fediverse_share.errors import BadRequest, NotFound
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
    """The request body as a JSON object (an empty body is ``{}``), without NUL characters."""
    body = await read_body(request, runtime_of(request).settings.max_body_bytes)
    value = parse_json_object(body) if body.strip() else {}
    check_no_nul(value)
    return value


async def read_admin_write(request: Request, fields: frozenset[str]) -> dict[str, Any]:
    """An operator's write: checks the caller (``admin:write``), reads the body, refuses
    fields outside ``fields`` and checks the idempotency key (not kept: such writes are
    idempotent by their nature)."""
    await require_admin(request, *ADMIN_WRITE)
    body = await read_object(request)
    reject_unknown_fields(body, fields)
    idempotency_key(request, body)
    return body


def check_no_nul(value: object) -> None:
    """Refuse NUL characters anywhere in a parsed body: PostgreSQL cannot store them in
    text, and no field of this API needs one. Iterative, so deep nesting costs no stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadRequest("text may not contain NUL characters", code="invalid_text")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def path_param(request: Request, name: str) -> str:
    """A path parameter, refused (as not found) if it holds a NUL character."""
    value: str = request.path_params[name]
    if "\x00" in value:
        raise NotFound("Record not found", code="not_found")
    return value


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
