"""Every route of the web app, in one list, grouped by the module that serves it."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles


def all_routes() -> list[BaseRoute]:
    from fediverse_share.exchange_api import openapi as exchange_api
    from fediverse_share.web import (
        actors,
        clearing,
        inbox,
        mastodon_api,
        oauth,
        objects,
        well_known,
    )

    return [
        *well_known.routes(),
        *inbox.routes(),
        *actors.routes(),
        *clearing.routes(),
        *objects.routes(),
        *oauth.routes(),
        *mastodon_api.routes(),
        *exchange_api.routes(),
        Mount("/static", StaticFiles(packages=[("fediverse_share", "static")]), name="static"),
    ]
