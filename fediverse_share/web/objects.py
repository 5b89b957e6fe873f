"""Our posts (notes and listings), dereferenceable at their ids: JSON or a page."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_share import tables
from fediverse_share.errors import NotFound
from fediverse_share.federation.render import CONTEXT
from fediverse_share.runtime import Runtime
from fediverse_share.web import pages
from fediverse_share.web.activity_json import ActivityJSONResponse, wants_activity_json

#: Only these are served to anyone who asks; followers-only and direct posts are not.
_SERVED = ("public", "unlisted")


def _find(conn: Connection, username: str, post_id: int) -> RowMapping | None:
    p, a = tables.posts, tables.actors
    return (
        conn.execute(
            select(p, a.c.username, a.c.name.label("author_name"))
            .join(a, a.c.id == p.c.actor_id)
            .where(p.c.id == post_id, p.c.local.is_(True), a.c.username == username)
        )
        .mappings()
        .first()
    )


async def post(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    raw_id = request.path_params["post_id"]
    row = None
    if raw_id.isdigit():
        row = await runtime.db.read(_find, request.path_params["username"], int(raw_id))
    if row is None or row["visibility"] not in _SERVED:
        raise NotFound("no such post")
    if row["deleted_at_us"] is not None:
        tombstone = {"@context": CONTEXT[0], "id": row["uri"], "type": "Tombstone"}
        return ActivityJSONResponse(tombstone, status_code=410)
    document: dict[str, Any] = orjson.loads(row["document"])
    if wants_activity_json(request):
        return ActivityJSONResponse({"@context": CONTEXT, **document})
    html = pages.render(request, "post.html", post=row, document=document)
    return HTMLResponse(html)


def routes() -> list[BaseRoute]:
    return [
        Route("/users/{username}/statuses/{post_id}", post),
        Route("/@{username}/{post_id}", post),
    ]
