"""Notifications and markers of the Mastodon client API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_share.mastodon import markers, notifications, pages
from fediverse_share.mastodon.social_entities import render_marker, render_notification
from fediverse_share.web.mastodon_http import (
    APIResponse,
    page_response,
    params_of,
    path_id,
    query_params,
    runtime_of,
    viewer,
)


def _types(params: dict[str, object], name: str) -> list[str]:
    value = params.get(name, [])
    items = value if isinstance(value, list) else [value]
    # Unknown types match nothing (`types[]`) or exclude nothing (`exclude_types[]`),
    # as in Mastodon; clients send newer types (poll, update, admin.*) freely.
    return [str(item) for item in items]


async def list_notifications(request: Request) -> Response:
    who = await viewer(request, "read:notifications")
    runtime = runtime_of(request)
    params = query_params(request)
    page = pages.parse_page(params, default=40, maximum=80)
    found, ids = await runtime.db.read(
        notifications.list_notifications,
        who,
        page,
        runtime.instance,
        types=_types(params, "types"),
        exclude_types=_types(params, "exclude_types"),
    )
    body = [render_notification(n, runtime.instance.base_url) for n in found]
    return page_response(request, body, ids, params)


async def get_notification(request: Request) -> Response:
    who = await viewer(request, "read:notifications")
    runtime = runtime_of(request)
    found = await runtime.db.read(
        notifications.get_notification, who, path_id(request), runtime.instance
    )
    return APIResponse(render_notification(found, runtime.instance.base_url))


async def clear(request: Request) -> Response:
    who = await viewer(request, "write:notifications")
    await runtime_of(request).db.write(notifications.clear, who.user_id)
    return APIResponse({})


async def dismiss(request: Request) -> Response:
    who = await viewer(request, "write:notifications")
    await runtime_of(request).db.write(notifications.dismiss, who.user_id, path_id(request))
    return APIResponse({})


def _render_markers(found: list[markers.Marker]) -> dict[str, object]:
    return {m.timeline: render_marker(m.last_read_id, m.version, m.updated_at_us) for m in found}


async def get_markers(request: Request) -> Response:
    who = await viewer(request, "read:statuses")
    wanted = query_params(request).get("timeline", [])
    timelines = wanted if isinstance(wanted, list) else [wanted]
    found = await runtime_of(request).db.read(markers.load, who.user_id, timelines)
    return APIResponse(_render_markers(found))


async def save_markers(request: Request) -> Response:
    who = await viewer(request, "write:statuses")
    updates = markers.parse_updates(await params_of(request))
    found = await runtime_of(request).db.write(markers.save, who.user_id, updates)
    return APIResponse(_render_markers(found))


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/notifications", list_notifications),
        Route("/api/v1/notifications/clear", clear, methods=["POST"]),
        Route("/api/v1/notifications/{id}", get_notification),
        Route("/api/v1/notifications/{id}/dismiss", dismiss, methods=["POST"]),
        Route("/api/v1/markers", get_markers, methods=["GET"]),
        Route("/api/v1/markers", save_markers, methods=["POST"]),
    ]
