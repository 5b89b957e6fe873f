"""The Mastodon client API endpoints a client calls at sign-in: verify_credentials
(and update_credentials) and the instance documents (v1 with and without a trailing
slash, and v2); `routes` gathers every route of the client API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_share import members
from fediverse_share.mastodon import accounts, entities, instance, profile
from fediverse_share.mastodon.compose import flag
from fediverse_share.runtime import Runtime
from fediverse_share.web.auth import require_user
from fediverse_share.web.bodies import read_params


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def verify_credentials(request: Request) -> Response:
    grant = await require_user(request, "profile", "read:accounts")
    runtime = _runtime(request)
    account = await runtime.db.read(accounts.get_member_account, grant.user_id, runtime.instance)
    return JSONResponse(entities.render_credential_account(account))


async def update_credentials(request: Request) -> Response:
    grant = await require_user(request, "write:accounts")
    runtime = _runtime(request)
    params = await read_params(request, runtime.settings.max_body_bytes)
    change = profile.check(
        profile.ProfileChange(
            display_name=_text(params, "display_name"),
            note=_text(params, "note"),
            locked=flag(params["locked"]) if "locked" in params else None,
            discoverable=flag(params["discoverable"]) if "discoverable" in params else None,
        )
    )
    member = await runtime.db.read(members.get_member_by_user_id, grant.user_id)
    await runtime.db.write(profile.apply, runtime, member.actor_id, change)
    return await verify_credentials(request)


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) else None


async def instance_v1(request: Request) -> Response:
    runtime = _runtime(request)
    facts = await runtime.db.read(instance.load_instance, runtime.instance)
    return JSONResponse(entities.render_instance_v1(facts))


async def instance_v2(request: Request) -> Response:
    runtime = _runtime(request)
    facts = await runtime.db.read(instance.load_instance, runtime.instance)
    return JSONResponse(entities.render_instance_v2(facts))


def routes() -> list[BaseRoute]:
    """Every route of the client API; verify_credentials before ``accounts/{id}``."""
    from fediverse_share.web import (
        mastodon_accounts,
        mastodon_misc,
        mastodon_notifications,
        mastodon_statuses,
        mastodon_streaming,
    )

    return [
        Route("/api/v1/accounts/verify_credentials", verify_credentials),
        Route("/api/v1/accounts/update_credentials", update_credentials, methods=["PATCH"]),
        Route("/api/v1/instance", instance_v1),
        Route("/api/v1/instance/", instance_v1),
        Route("/api/v2/instance", instance_v2),
        *mastodon_accounts.routes(),
        *mastodon_statuses.routes(),
        *mastodon_notifications.routes(),
        *mastodon_misc.routes(),
        *mastodon_streaming.routes(),
    ]
