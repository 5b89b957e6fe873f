"""What every Mastodon API handler needs: the caller as a `Viewer`, ids from the
path, parameters, and JSON responses (with a ``Link`` header for pages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fediverse_share import members
from fediverse_share.errors import NotFound
from fediverse_share.mastodon import pages
from fediverse_share.mastodon.statuses import Viewer
from fediverse_share.runtime import Runtime
from fediverse_share.web.auth import optional_token, require_user
from fediverse_share.web.bodies import read_params

#: Uploads may be larger than other bodies (the instance advertises 16 MB images).
MAX_UPLOAD_BYTES = 17 * 1024 * 1024


class APIResponse(Response):
    """JSON by orjson; ``Cache-Control: private`` since answers depend on the token."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def viewer(request: Request, *scopes: str) -> Viewer:
    """The signed-in member (401/403/422 as `require_user` decides)."""
    grant = await require_user(request, *scopes)
    return await _viewer_of(request, grant.user_id)


async def optional_viewer(request: Request, *scopes: str) -> Viewer | None:
    grant = await optional_token(request, *scopes)
    if grant is None or grant.user_id is None:
        return None
    return await _viewer_of(request, grant.user_id)


async def _viewer_of(request: Request, user_id: int) -> Viewer:
    member = await member_of(request, user_id)
    return Viewer(member.actor_id, member.user_id)


async def member_of(request: Request, user_id: int) -> members.Member:
    cached: members.Member | None = getattr(request.state, "member", None)
    if cached is None:
        cached = await runtime_of(request).db.read(members.get_member_by_user_id, user_id)
        request.state.member = cached
    return cached


def path_id(request: Request, name: str = "id") -> int:
    """A numeric id from the path; anything else names no record (404)."""
    raw = str(request.path_params.get(name, ""))
    if not raw.isdigit() or len(raw) > 20:
        raise NotFound("Record not found")
    return int(raw)


async def params_of(request: Request, max_bytes: int | None = None) -> dict[str, Any]:
    limit = max_bytes or runtime_of(request).settings.max_body_bytes
    return await read_params(request, limit)


def public_url(request: Request) -> str:
    """This request's URL without its query, as the instance is reached from outside."""
    return f"{runtime_of(request).instance.base_url}{request.url.path}"


def page_response(
    request: Request, content: Any, ids: Sequence[int], params: dict[str, Any]
) -> Response:
    response = APIResponse(content)
    link = pages.link_header(public_url(request), params, ids)
    if link:
        response.headers["Link"] = link
    return response


def query_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key.endswith("[]"):
            params.setdefault(key[:-2], []).append(value)
        else:
            params[key] = value
    return params
