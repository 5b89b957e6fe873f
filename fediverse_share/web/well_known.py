"""Discovery: WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from activitypub import nodeinfo, webfinger
from fediverse_share import actors, tables
from fediverse_share.errors import BadRequest, NotFound
from fediverse_share.runtime import Runtime
from fediverse_share.web.activity_json import JRDResponse

SOFTWARE_NAME = "fediverse-share"
SOFTWARE_VERSION = "0.1.0"


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _username_for(runtime: Runtime, resource: str) -> str:
    """The local username a WebFinger resource names (acct: or an actor URL)."""
    base = runtime.instance.base_url
    if resource.startswith((base + "/users/", base + "/@")):
        return resource.removeprefix(base).split("/")[-1].lstrip("@")
    if resource == runtime.instance.instance_actor_uri:
        return runtime.instance.domain
    try:
        handle = webfinger.parse_acct(resource)
    except Exception as exc:
        raise BadRequest("resource must be acct:name@domain or an actor URL") from exc
    if handle.domain != runtime.instance.domain:
        raise NotFound("that account is not on this server")
    return handle.username


async def webfinger_route(request: Request) -> Response:
    runtime = _runtime(request)
    resource = request.query_params.get("resource")
    if not resource:
        raise BadRequest("the resource parameter is required")
    row = await runtime.db.read(actors.get_local_actor, _username_for(runtime, resource))
    jrd = webfinger.render_jrd(
        subject=resource,
        actor_id=row["uri"],
        profile_url=row["url"],
        aliases=[row["uri"], row["url"]],
        subscribe_template=f"{runtime.instance.base_url}/authorize_interaction?uri={{uri}}",
        avatar_url=runtime.instance.avatar_url,
    )
    return JRDResponse(jrd)


async def host_meta(request: Request) -> Response:
    xml = webfinger.render_host_meta(_runtime(request).instance.base_url)
    return Response(xml, media_type="application/xrd+xml")


async def nodeinfo_links(request: Request) -> Response:
    runtime = _runtime(request)
    links = nodeinfo.render_nodeinfo_links(
        runtime.instance.base_url, runtime.instance.instance_actor_uri
    )
    return JRDResponse(links)


def _usage(conn: Connection) -> tuple[int, int]:
    users = conn.execute(select(func.count()).select_from(tables.users)).scalar_one()
    p = tables.posts
    posts = conn.execute(
        select(func.count()).select_from(p).where(p.c.local.is_(True), p.c.deleted_at_us.is_(None))
    ).scalar_one()
    return users, posts


async def nodeinfo_document(request: Request) -> Response:
    runtime = _runtime(request)
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        raise NotFound("NodeInfo 2.0 and 2.1 are served")
    users, posts = await runtime.db.read(_usage)
    document = nodeinfo.render_nodeinfo(
        version,
        software_name=SOFTWARE_NAME,
        software_version=SOFTWARE_VERSION,
        users_total=users,
        active_month=users,
        active_halfyear=users,
        local_posts=posts,
        open_registrations=False,
        metadata={"nodeName": runtime.instance.community_username},
    )
    profile = f"http://nodeinfo.diaspora.software/ns/schema/{version}#"
    return JRDResponse(document, media_type=f'application/json; profile="{profile}"')


def routes() -> list[BaseRoute]:
    return [
        Route("/.well-known/webfinger", webfinger_route),
        Route("/.well-known/host-meta", host_meta),
        Route("/.well-known/nodeinfo", nodeinfo_links),
        Route("/nodeinfo/{version}", nodeinfo_document),
    ]
