"""Real instances for federation tests: each with its own settings and database,
served by uvicorn on a 127.0.0.1 ephemeral port inside the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.types import ASGIApp

from fediverse_share import ledger, setup
from fediverse_share.app import create_app
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings
from tests.support.databases import fresh_database_url
from tests.support.serve import bind_loopback, serve_app


@dataclass(slots=True)
class Instance:
    name: str
    settings: Settings
    app: Starlette

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def domain(self) -> str:
        return self.settings.domain

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@contextlib.asynccontextmanager
async def prepared_instance(
    name: str,
    tmp_path: Path,
    postgres_url: str,
    *,
    community: str | None = None,
    currency: str = "",
    scale: int = 2,
) -> AsyncIterator[Settings]:
    """An initialised instance's settings (database and actors exist; nothing serves yet).

    The port is chosen now, because the domain (``localhost:PORT``) is part of
    every id the instance mints. The socket that chose it stays bound (not listening)
    until the block ends, so no other process picks the port in the meantime (CI runs
    the SQLite and PostgreSQL suites side by side); the servers bind it beside it.
    """
    probe = bind_loopback()
    port = probe.getsockname()[1]
    async with (
        contextlib.AsyncExitStack() as held,
        fresh_database_url(postgres_url, tmp_path, name) as (url, schema),
    ):
        held.callback(probe.close)
        settings = Settings(
            domain=f"localhost:{port}",
            data_dir=tmp_path / name,
            database_url=url,
            database_schema=schema,
            secret_key=f"test-secret-{name}",
            allow_http=True,
            allow_private_addresses=True,
            run_worker=False,
        )
        community = community or f"{name}_community"
        currency = currency or f"{name.upper()}X"
        await setup.initialise(settings, setup.CommunitySpec(community, community.title()))
        await ledger.ensure_currency(settings, currency, f"{name} units", scale)
        yield settings


@contextlib.asynccontextmanager
async def serving(
    name: str, settings: Settings, wrap: Callable[[ASGIApp], ASGIApp] | None = None
) -> AsyncIterator[Instance]:
    """Serve an initialised instance on its port; leave the block to stop it.

    ``wrap`` puts ASGI middleware in front of the app: an operator's modified server,
    for tests of peers that misbehave on purpose."""
    port = int(settings.domain.rsplit(":", 1)[1])
    app = create_app(settings)
    async with serve_app(app if wrap is None else wrap(app), sock=bind_loopback(port)):
        yield Instance(name, settings, app)


@contextlib.asynccontextmanager
async def running_instance(
    name: str, tmp_path: Path, postgres_url: str, *, community: str | None = None
) -> AsyncIterator[Instance]:
    async with (
        prepared_instance(name, tmp_path, postgres_url, community=community) as settings,
        serving(name, settings) as instance,
    ):
        yield instance
