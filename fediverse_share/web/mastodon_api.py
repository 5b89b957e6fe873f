"""The Mastodon client API endpoints a client calls at sign-in: verify_credentials
and the instance documents (v1 with and without a trailing slash, and v2)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_share.mastodon import accounts, entities, instance
from fediverse_share.runtime import Runtime
from fediverse_share.web.auth import require_user


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def verify_credentials(request: Request) -> Response:
    grant = await require_user(request, "profile", "read:accounts")
    runtime = _runtime(request)
    account = await runtime.db.read(accounts.get_member_account, grant.user_id, runtime.instance)
    return JSONResponse(entities.render_credential_account(account))


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
        Route("/api/v1/instance", instance_v1),
        Route("/api/v1/instance/", instance_v1),
        Route("/api/v2/instance", instance_v2),
        *mastodon_accounts.routes(),
        *mastodon_statuses.routes(),
        *mastodon_notifications.routes(),
        *mastodon_misc.routes(),
        *mastodon_streaming.routes(),
    ]
