"""Actor documents and their collections, with HTML for browsers at the same URLs."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, func, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from activitypub.collections import render_ordered_collection, render_ordered_collection_page
from fediverse_share import actors, tables
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest
from fediverse_share.federation.actor_fields import actor_attachment
from fediverse_share.federation.render import render_actor
from fediverse_share.runtime import Runtime
from fediverse_share.web import pages
from fediverse_share.web.activity_json import ActivityJSONResponse, wants_activity_json

PAGE_SIZE = 40


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def actor(request: Request) -> Response:
    runtime = _runtime(request)
    username = request.path_params["username"]
    row = await runtime.db.read(actors.get_local_actor, username)
    if row["type"] == "Application":
        # The instance actor lives at /actor; /users/<domain> is not it.
        return await instance_actor(request)
    if not wants_activity_json(request):
        return await profile_page(request)
    attachment = await runtime.db.read(actor_attachment, row, now_us())
    return ActivityJSONResponse(render_actor(row, runtime.instance, attachment=attachment))


async def instance_actor(request: Request) -> Response:
    runtime = _runtime(request)
    row = await runtime.db.read(actors.get_local_actor, runtime.instance.domain)
    return ActivityJSONResponse(render_actor(row, runtime.instance))


async def profile_page(request: Request) -> Response:
    runtime = _runtime(request)
    username = request.path_params["username"].lstrip("@")
    row = await runtime.db.read(actors.get_local_actor, username)
    html = pages.render(
        request, "profile.html", actor=row, handle=f"@{row['username']}@{runtime.instance.domain}"
    )
    return HTMLResponse(html)


def _count_and_page(
    conn: Connection, kind: str, actor_id: int, max_id: int | None
) -> tuple[int, list[Any]]:
    if kind == "outbox":
        act = tables.activities
        source: Any = act
        where = [act.c.actor_id == actor_id, act.c.local.is_(True), act.c.public.is_(True)]
        columns: list[Any] = [act.c.id, act.c.document]
    else:
        f, a = tables.follows, tables.actors
        mine, other = (
            (f.c.followed_id, f.c.follower_id)
            if kind == "followers"
            else (f.c.follower_id, f.c.followed_id)
        )
        source = f.join(a, a.c.id == other)
        where = [mine == actor_id, f.c.state == "accepted"]
        columns = [f.c.id, a.c.uri]
    total = conn.execute(select(func.count()).select_from(source).where(*where)).scalar_one()
    id_column = columns[0]
    if max_id is not None:
        where.append(id_column < max_id)
    rows = conn.execute(
        select(*columns)
        .select_from(source)
        .where(*where)
        .order_by(id_column.desc())
        .limit(PAGE_SIZE)
    ).all()
    return total, list(rows)


async def collection(request: Request) -> Response:
    runtime = _runtime(request)
    kind = request.url.path.rsplit("/", 1)[1]
    row: RowMapping = await runtime.db.read(actors.get_local_actor, request.path_params["username"])
    collection_id = f"{row['uri']}/{kind}"
    page = request.query_params.get("page")
    max_id = _parse_max_id(request.query_params.get("max_id"))
    total, rows = await runtime.db.read(_count_and_page, kind, row["id"], max_id)
    if page is None and max_id is None:
        return ActivityJSONResponse(
            render_ordered_collection(collection_id, total, f"{collection_id}?page=true")
        )
    items = [orjson.loads(r[1]) if kind == "outbox" else r[1] for r in rows]
    next_url = f"{collection_id}?page=true&max_id={rows[-1][0]}" if len(rows) == PAGE_SIZE else None
    page_id = str(request.url.replace(scheme=runtime.settings.scheme))
    return ActivityJSONResponse(
        render_ordered_collection_page(page_id, collection_id, items, next_url, None)
    )


def _parse_max_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest("max_id must be a number")
    return int(raw)


def routes() -> list[BaseRoute]:
    return [
        Route("/actor", instance_actor),
        Route("/users/{username}", actor),
        Route("/@{username}", profile_page),
        Route("/users/{username}/followers", collection),
        Route("/users/{username}/following", collection),
        Route("/users/{username}/outbox", collection),
    ]
