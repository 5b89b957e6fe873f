"""The application factory: ``create_app(settings)`` builds one instance.

The lifespan owns everything with a life: the database, the HTTP client and the
background worker. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from fediverse_share import failpoints, standalone
from fediverse_share.errors import expected_error_types
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings
from fediverse_share.web import errors
from fediverse_share.web.cors import MastodonCORSMiddleware


def create_app(settings: Settings) -> Starlette:
    failpoints.check(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with standalone.runtime(settings) as runtime:
            app.state.runtime = runtime
            async with _worker(runtime):
                yield

    return Starlette(
        routes=_routes(),
        lifespan=lifespan,
        middleware=[Middleware(MastodonCORSMiddleware)],
        exception_handlers={
            HTTPException: errors.handle_http,
            Exception: errors.handle_unexpected,
            **{cls: errors.handle_expected for cls in expected_error_types()},
        },
    )


def _routes() -> list[BaseRoute]:
    from fediverse_share.web import routes

    return routes.all_routes()


@contextlib.asynccontextmanager
async def _worker(runtime: Runtime) -> AsyncIterator[None]:
    if not runtime.settings.run_worker:
        yield
        return
    from fediverse_share import worker

    task = asyncio.create_task(worker.run_forever(runtime), name="worker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
