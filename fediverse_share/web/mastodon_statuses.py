"""Statuses and timelines of the Mastodon client API (thin handlers: parse, call the
service in `fediverse_share.mastodon`, render)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Connection, RowMapping
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_share.errors import Forbidden, NotFound
from fediverse_share.federation import publish
from fediverse_share.listings.model import find_listing
from fediverse_share.listings.store import withdraw_listing
from fediverse_share.mastodon import compose, feeds, interactions, pages, timelines
from fediverse_share.mastodon.accounts import load_accounts
from fediverse_share.mastodon.entities import render_account
from fediverse_share.mastodon.status_entities import render_context, render_status, render_statuses
from fediverse_share.mastodon.statuses import Viewer, document_of, load_statuses
from fediverse_share.runtime import Runtime
from fediverse_share.web.mastodon_http import (
    APIResponse,
    optional_viewer,
    page_response,
    params_of,
    path_id,
    query_params,
    runtime_of,
    viewer,
)


async def _render_one(runtime: Runtime, status_id: int, who: Viewer | None) -> Response:
    found = await runtime.db.read(load_statuses, [status_id], runtime.instance, who)
    if not found:
        raise NotFound("Record not found")
    return APIResponse(render_status(found[0], runtime.instance.base_url))


async def _render_page(
    request: Request, runtime: Runtime, ids: list[int], who: Viewer | None
) -> Response:
    found = await runtime.db.read(load_statuses, ids, runtime.instance, who)
    body = render_statuses(found, runtime.instance.base_url)
    return page_response(request, body, ids, query_params(request))


async def create_status(request: Request) -> Response:
    who = await viewer(request, "write:statuses")
    runtime = runtime_of(request)
    draft = compose.parse_draft(await params_of(request))
    key = request.headers.get("idempotency-key")
    post_id = await compose.create_status(runtime, who, draft, key)
    return await _render_one(runtime, post_id, who)


async def get_status(request: Request) -> Response:
    who = await optional_viewer(request, "read:statuses")
    runtime = runtime_of(request)
    status_id = path_id(request)
    await runtime.db.read(timelines.visible_post, status_id, who)
    return await _render_one(runtime, status_id, who)


def _delete(conn: Connection, runtime: Runtime, who: Viewer, status_id: int) -> str:
    """Delete the member's post (withdraw it, if a listing); the text they typed, for
    "delete and redraft"."""
    post = timelines.visible_post(conn, status_id, who)
    if post["id"] != status_id:
        raise NotFound("Record not found")  # a reblog is undone with unreblog
    if post["actor_id"] != who.actor_id:
        raise Forbidden("This action is not allowed")
    if find_listing(conn, status_id) is not None:
        withdraw_listing(conn, runtime, who.actor_id, status_id)  # sends the Delete too
    else:
        publish.delete_note(conn, runtime, who.actor_id, status_id)
    source = document_of(post).get("source")
    content = source.get("content") if isinstance(source, dict) else None
    return content if isinstance(content, str) else ""


async def delete_status(request: Request) -> Response:
    who = await viewer(request, "write:statuses")
    runtime = runtime_of(request)
    status_id = path_id(request)
    found = await runtime.db.read(load_statuses, [status_id], runtime.instance, who)
    source_text = await runtime.db.write(_delete, runtime, who, status_id)
    if not found:
        raise NotFound("Record not found")
    rendered = render_status(found[0], runtime.instance.base_url)
    rendered["text"] = source_text
    return APIResponse(rendered)


async def context(request: Request) -> Response:
    who = await optional_viewer(request, "read:statuses")
    runtime = runtime_of(request)
    post = await runtime.db.read(timelines.visible_post, path_id(request), who)
    ancestors, descendants = await runtime.db.read(timelines.context_ids, post, who)
    found = await runtime.db.read(load_statuses, ancestors + descendants, runtime.instance, who)
    by_id = {s.status_id: s for s in found}
    return APIResponse(
        render_context(
            [by_id[i] for i in ancestors if i in by_id],
            [by_id[i] for i in descendants if i in by_id],
            runtime.instance.base_url,
        )
    )


Who = Callable[[Connection, RowMapping, pages.Page], list[tuple[int, int]]]


def _who(query: Who) -> Callable[[Request], Awaitable[Response]]:
    """Accounts that favourited or reblogged a status, paged on the action's id."""

    async def endpoint(request: Request) -> Response:
        who = await optional_viewer(request, "read:accounts")
        runtime = runtime_of(request)
        post = await runtime.db.read(timelines.visible_post, path_id(request), who)
        rows = await runtime.db.read(query, post, pages.parse_page(request.query_params))
        found = await runtime.db.read(load_accounts, [r[1] for r in rows], runtime.instance)
        body = [render_account(found[a]) for _, a in rows if a in found]
        return page_response(request, body, [r[0] for r in rows], query_params(request))

    return endpoint


Action = Callable[[Connection, Runtime, Viewer, RowMapping], object]


def _action(scope: str, action: Action, *, show_reblog: bool = False) -> Callable[..., object]:
    async def endpoint(request: Request) -> Response:
        who = await viewer(request, scope)
        runtime = runtime_of(request)
        post = await runtime.db.read(timelines.visible_post, path_id(request), who)

        def run(conn: Connection) -> object:
            return action(conn, runtime, who, post)

        result = await runtime.db.write(run)
        shown = result if show_reblog and isinstance(result, int) else post["id"]
        return await _render_one(runtime, shown, who)

    return endpoint


async def home(request: Request) -> Response:
    who = await viewer(request, "read:statuses")
    runtime = runtime_of(request)
    page = pages.parse_page(request.query_params)
    ids = await runtime.db.read(feeds.home_ids, who.user_id, page)
    return await _render_page(request, runtime, ids, who)


def _local_flag(request: Request) -> bool | None:
    if compose.flag(request.query_params.get("local", False)):
        return True
    if compose.flag(request.query_params.get("remote", False)):
        return False
    return None


async def public(request: Request) -> Response:
    who = await optional_viewer(request, "read:statuses")
    runtime = runtime_of(request)
    page = pages.parse_page(request.query_params)
    ids = await runtime.db.read(timelines.public_ids, page, local=_local_flag(request))
    return await _render_page(request, runtime, ids, who)


async def tag(request: Request) -> Response:
    who = await optional_viewer(request, "read:statuses")
    runtime = runtime_of(request)
    page = pages.parse_page(request.query_params)
    name = str(request.path_params["tag"])
    ids = await runtime.db.read(timelines.tag_ids, name, page, local=_local_flag(request))
    return await _render_page(request, runtime, ids, who)


def routes() -> list[BaseRoute]:
    actions = {
        "favourite": ("write:favourites", interactions.favourite, False),
        "unfavourite": ("write:favourites", interactions.unfavourite, False),
        "reblog": ("write:statuses", interactions.reblog, True),
        "unreblog": ("write:statuses", interactions.unreblog, False),
        "bookmark": ("write:bookmarks", interactions.bookmark, False),
        "unbookmark": ("write:bookmarks", interactions.unbookmark, False),
    }
    return [
        Route("/api/v1/statuses", create_status, methods=["POST"]),
        Route("/api/v1/statuses/{id}", get_status, methods=["GET"]),
        Route("/api/v1/statuses/{id}", delete_status, methods=["DELETE"]),
        Route("/api/v1/statuses/{id}/context", context, methods=["GET"]),
        Route("/api/v1/statuses/{id}/favourited_by", _who(timelines.favourited_by)),
        Route("/api/v1/statuses/{id}/reblogged_by", _who(timelines.reblogged_by)),
        *(
            Route(
                f"/api/v1/statuses/{{id}}/{name}",
                _action(scope, action, show_reblog=show),
                methods=["POST"],
            )
            for name, (scope, action, show) in actions.items()
        ),
        Route("/api/v1/timelines/home", home),
        Route("/api/v1/timelines/public", public),
        Route("/api/v1/timelines/tag/{tag}", tag),
    ]
