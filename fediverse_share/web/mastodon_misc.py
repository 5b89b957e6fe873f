"""Search, media, bookmarks, favourites, preferences, and the endpoints clients
call on their first screen for features this server does not have (yet).

Those answer what Mastodon answers when there is nothing: ``[]`` for lists
(custom emojis, filters v1 and v2, lists, announcements, followed tags, trends,
suggestions, conversations, blocks, mutes…) and 404 for the push subscription,
since Elk, Tusky and the Android app fall back only on a 404.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_share.errors import NotFound, PayloadTooLarge
from fediverse_share.mastodon import accounts, compose, media, pages, search, timelines
from fediverse_share.mastodon.errors import ValidationFailed
from fediverse_share.mastodon.social_entities import render_search
from fediverse_share.mastodon.status_entities import render_media, render_statuses, render_tag
from fediverse_share.mastodon.statuses import Viewer, load_statuses
from fediverse_share.web.mastodon_http import (
    MAX_UPLOAD_BYTES,
    APIResponse,
    optional_viewer,
    page_response,
    params_of,
    path_id,
    query_params,
    runtime_of,
    viewer,
)

#: Paths that answer an empty list (with the scope a token must hold, if any).
EMPTY_LISTS = {
    "/api/v1/custom_emojis": None,
    "/api/v1/filters": "read:filters",
    "/api/v2/filters": "read:filters",
    "/api/v1/lists": "read:lists",
    "/api/v1/announcements": None,
    "/api/v1/followed_tags": "read:follows",
    "/api/v1/trends": None,
    "/api/v1/trends/tags": None,
    "/api/v1/trends/statuses": None,
    "/api/v1/trends/links": None,
    "/api/v1/suggestions": "read",
    "/api/v2/suggestions": "read",
    "/api/v1/conversations": "read:statuses",
    "/api/v1/instance/rules": None,
    "/api/v1/instance/peers": None,
    "/api/v1/instance/activity": None,
    "/api/v1/blocks": "read:blocks",
    "/api/v1/mutes": "read:mutes",
    "/api/v1/domain_blocks": "read:blocks",
    "/api/v1/endorsements": "read:accounts",
    "/api/v1/featured_tags": "read:accounts",
    "/api/v1/scheduled_statuses": "read:statuses",
}

PREFERENCES = {
    "posting:default:visibility": "public",
    "posting:default:sensitive": False,
    "posting:default:language": None,
    "reading:expand:media": "default",
    "reading:expand:spoilers": False,
}


async def empty_list(request: Request) -> Response:
    scope = EMPTY_LISTS.get(request.url.path)
    if scope is None:
        await optional_viewer(request)
    else:
        await viewer(request, scope)
    return APIResponse([])


async def preferences(request: Request) -> Response:
    await viewer(request, "read:accounts")
    return APIResponse(PREFERENCES)


async def push_subscription(request: Request) -> Response:
    await viewer(request, "push")
    raise NotFound("Record not found")


async def search_v2(request: Request) -> Response:
    who = await optional_viewer(request, "read:search")
    runtime = runtime_of(request)
    q = request.query_params
    limit = pages.parse_page(q).limit
    offset = q.get("offset", "0")
    query = search.Query(
        q=q.get("q") or "",
        kind=q.get("type") if q.get("type") in ("accounts", "statuses", "hashtags") else None,
        resolve=compose.flag(q.get("resolve", False)),
        limit=limit,
        offset=int(offset) if offset.isdigit() else 0,
    )
    found = await search.search(runtime, query, who)
    account_facts = await runtime.db.read(
        accounts.load_accounts, found.account_ids, runtime.instance
    )
    statuses = await runtime.db.read(load_statuses, found.status_ids, runtime.instance, who)
    return APIResponse(
        render_search(
            [account_facts[i] for i in found.account_ids if i in account_facts],
            statuses,
            found.hashtags,
            runtime.instance.base_url,
        )
    )


async def upload(request: Request) -> Response:
    who = await viewer(request, "write:media")
    runtime = runtime_of(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"uploads are at most {MAX_UPLOAD_BYTES} bytes")
    params = await params_of(request, MAX_UPLOAD_BYTES)
    file = params.get("file")
    try:
        if not isinstance(file, UploadFile):
            raise ValidationFailed("File can't be blank")
        if file.size is not None and file.size > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"uploads are at most {MAX_UPLOAD_BYTES} bytes")
        data = await file.read(MAX_UPLOAD_BYTES + 1)
    finally:
        for value in params.values():
            if isinstance(value, UploadFile):
                await value.close()
    facts = await media.upload(runtime, who.user_id, data, params.get("description"))
    return APIResponse(render_media(facts))


async def get_media(request: Request) -> Response:
    who = await viewer(request, "write:media")
    runtime = runtime_of(request)
    facts = await runtime.db.read(
        media.get_own_media, who.user_id, path_id(request), runtime.instance
    )
    return APIResponse(render_media(facts))


async def update_media(request: Request) -> Response:
    who = await viewer(request, "write:media")
    runtime = runtime_of(request)
    params = await params_of(request)
    facts = await runtime.db.write(
        media.describe, who.user_id, path_id(request), params.get("description"), runtime.instance
    )
    return APIResponse(render_media(facts))


async def media_file(request: Request) -> Response:
    runtime = runtime_of(request)
    name = str(request.path_params["name"])
    row = await runtime.db.read(media.find_file, name)
    if row is None:
        raise NotFound("Record not found")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=604800"}
    path = media.media_dir(runtime) / row["file_name"]
    return FileResponse(path, media_type=row["content_type"], headers=headers)


async def tag(request: Request) -> Response:
    """A hashtag (Elk's tag pages); following hashtags is not offered."""
    await optional_viewer(request)
    name = str(request.path_params["name"]).lstrip("#").lower()
    base = runtime_of(request).instance.base_url
    return APIResponse({**render_tag(name, base), "history": [], "following": False})


async def bookmarks(request: Request) -> Response:
    who = await viewer(request, "read:bookmarks")
    return await _listed(request, who, timelines.bookmark_ids)


async def favourites(request: Request) -> Response:
    who = await viewer(request, "read:favourites")
    return await _listed(request, who, timelines.favourite_ids)


ListQuery = Callable[[Connection, Viewer, pages.Page], tuple[list[int], list[int]]]


async def _listed(request: Request, who: Viewer, query: ListQuery) -> Response:
    runtime = runtime_of(request)
    page = pages.parse_page(request.query_params)
    status_ids, page_ids = await runtime.db.read(query, who, page)
    found = await runtime.db.read(load_statuses, status_ids, runtime.instance, who)
    body = render_statuses(found, runtime.instance.base_url)
    return page_response(request, body, page_ids, query_params(request))


def routes() -> list[BaseRoute]:
    return [
        *(Route(path, empty_list) for path in EMPTY_LISTS),
        Route("/api/v1/preferences", preferences),
        Route(
            "/api/v1/push/subscription",
            push_subscription,
            methods=["GET", "POST", "PUT", "DELETE"],
        ),
        Route("/api/v2/search", search_v2),
        Route("/api/v1/media", upload, methods=["POST"]),
        Route("/api/v2/media", upload, methods=["POST"]),
        Route("/api/v1/media/{id}", get_media, methods=["GET"]),
        Route("/api/v1/media/{id}", update_media, methods=["PUT"]),
        Route("/media/{name}", media_file),
        Route("/api/v1/tags/{name}", tag),
        Route("/api/v1/bookmarks", bookmarks),
        Route("/api/v1/favourites", favourites),
    ]
