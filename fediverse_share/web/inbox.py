"""Inbox routes: the shared inbox, each actor's inbox and the instance actor's."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_share import actors
from fediverse_share.clearing import inbox as clearing_inbox
from fediverse_share.federation import inbox
from fediverse_share.runtime import Runtime


async def shared_inbox(request: Request) -> Response:
    return await inbox.receive(request, None)


async def actor_inbox(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    row = await runtime.db.read(actors.get_local_actor, request.path_params["username"])
    return await inbox.receive(request, row["id"])


async def instance_inbox(request: Request) -> Response:
    """The instance actor's inbox: clearing requests are answered at once (see
    `fediverse_share.clearing.inbox`); everything else is stored like anywhere else."""
    runtime: Runtime = request.app.state.runtime
    activity, body = await inbox.verified_activity(runtime, request)
    if clearing_inbox.answers(activity):
        return await clearing_inbox.answer(runtime, activity)
    row = await runtime.db.read(actors.get_local_actor, runtime.instance.domain)
    await inbox.accept(runtime, activity, row["id"], body)
    return Response(status_code=202)


def routes() -> list[BaseRoute]:
    return [
        Route("/inbox", shared_inbox, methods=["POST"]),
        Route("/users/{username}/inbox", actor_inbox, methods=["POST"]),
        Route("/actor/inbox", instance_inbox, methods=["POST"]),
    ]
