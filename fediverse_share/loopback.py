"""Serving an app inside the running event loop, on loopback: for the demo, benches, tests.

``serve_app(app)`` runs any ASGI app (its lifespan included) with uvicorn on
``127.0.0.1`` (an ephemeral port unless given a bound socket), yields
``http://127.0.0.1:PORT`` once uvicorn reports that it has started (no fixed sleeps),
and shuts it down cleanly when the block ends. Uvicorn's signal handlers are not
installed, so several servers can share one event loop and the caller keeps Ctrl+C.
Production serving is ``fediverse-share serve`` (uvicorn's own runner), not this.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from fediverse_share.errors import ServerFailedToStart

LOOPBACK = "127.0.0.1"


def bind_loopback(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 (an ephemeral port unless ``port`` is given)."""
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on connections whose
    # socket says TCP, and without it Nagle holds every response body (written after
    # its headers) until the peer's delayed ACK, 40 ms later.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """Uvicorn without signal handlers, with an event set once it has started."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        except SystemExit:
            # Uvicorn exits the process when the lifespan fails; here that would
            # escape the event loop, so it becomes an ordinary error.
            raise ServerFailedToStart("the app's lifespan startup failed") from None
        self.ready.set()


async def _until_started(server: _Server, task: asyncio.Task[None]) -> None:
    ready = asyncio.ensure_future(server.ready.wait())
    await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if server.ready.is_set():
        return
    ready.cancel()
    task.result()  # raises the start-up error, if there is one
    raise ServerFailedToStart("the server stopped before it started")


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, sock: socket.socket | None = None, **config: Any
) -> AsyncIterator[str]:
    """Serve ``app`` on loopback for the duration of the block; yields its base URL.

    ``sock`` is an already bound socket (see `bind_loopback`) for callers that must
    know the port before the app is built (it is closed afterwards); ``config``
    overrides uvicorn settings.
    """
    sock = sock or bind_loopback()
    host, port = sock.getsockname()[:2]
    settings: dict[str, Any] = {
        "lifespan": "on",
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 5,
    }
    settings.update(config)
    server = _Server(uvicorn.Config(app, **settings))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _until_started(server, task)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()
