"""Real HTTP servers for tests: uvicorn inside the test's own event loop, on loopback.

``serve_app(app)`` runs any ASGI app (its lifespan included) on ``127.0.0.1`` and an
ephemeral port, yields ``http://127.0.0.1:PORT`` once uvicorn reports that it has
started (no fixed sleeps), and shuts it down cleanly when the block ends. Uvicorn's
signal handlers are not installed: the test runner keeps Ctrl+C.

``serve_static_fixtures()`` serves recorded documents from
``tests/fixtures/<host>/<path>.json`` as ``application/activity+json``: the document
recorded for ``https://<host>/<path>`` is served at ``<base_url>/<host>/<path>``.
Every ``https://<host>`` that has a fixture directory is rewritten to
``<base_url>/<host>`` in the served text, so that ids still equal the URLs they are
fetched from and references between recorded documents can be followed over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

FIXTURES_ROOT = Path(__file__).resolve().parent.parent / "fixtures"
ACTIVITY_JSON = "application/activity+json"


class ServerFailedToStart(RuntimeError):
    """Uvicorn stopped before it started serving (e.g. the app's lifespan failed)."""


def bind_loopback(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 (an ephemeral port unless ``port`` is given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class _TestServer(uvicorn.Server):
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
            # Uvicorn exits the process when the lifespan fails; in a test that
            # would escape the event loop, so it becomes an ordinary error.
            raise ServerFailedToStart("the app's lifespan startup failed") from None
        self.ready.set()


async def _until_started(server: _TestServer, task: asyncio.Task[None]) -> None:
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

    ``sock`` is an already bound socket (see ``bind_loopback``) for callers that
    must know the port before the app is built; ``config`` overrides uvicorn settings.
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
    server = _TestServer(uvicorn.Config(app, **settings))
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


def fixture_url(base_url: str, original_url: str) -> str:
    """Where ``serve_static_fixtures`` serves the document recorded for ``original_url``."""
    parts = urlsplit(original_url)
    return f"{base_url}/{parts.netloc}{parts.path}"


def fixture_path(original_url: str, root: Path = FIXTURES_ROOT) -> Path:
    """The file that records the document at ``original_url``."""
    parts = urlsplit(original_url)
    return root / parts.netloc / f"{parts.path.strip('/')}.json"


def _recorded_hosts(root: Path) -> list[str]:
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir())


def _rewrite(text: str, hosts: list[str], base_url: str) -> str:
    if not hosts:
        return text
    pattern = re.compile(r"https://(" + "|".join(map(re.escape, hosts)) + r")(?=[/\"#?])")
    return pattern.sub(lambda match: f"{base_url}/{match.group(1)}", text)


def static_fixtures_app(root: Path = FIXTURES_ROOT) -> Starlette:
    """An app serving ``root/<host>/<path>.json`` at ``/<host>/<path>``, ids rewritten."""
    root = root.resolve()

    async def document(request: Request) -> Response:
        relative = f"{request.path_params['host']}/{request.path_params['path'].strip('/')}"
        file = (root / f"{relative}.json").resolve()
        if not file.is_relative_to(root) or not file.is_file():
            return Response("no such fixture", status_code=404, media_type="text/plain")
        base_url = str(request.base_url).rstrip("/")
        text = _rewrite(file.read_text(encoding="utf-8"), _recorded_hosts(root), base_url)
        return Response(text, media_type=ACTIVITY_JSON)

    return Starlette(routes=[Route("/{host}/{path:path}", document)])


@contextlib.asynccontextmanager
async def serve_static_fixtures(root: Path = FIXTURES_ROOT) -> AsyncIterator[str]:
    """Serve the recorded documents under ``root`` on loopback; yields the base URL."""
    async with serve_app(static_fixtures_app(root)) as base_url:
        yield base_url
