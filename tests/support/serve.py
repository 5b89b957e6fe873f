"""Real HTTP servers for tests: uvicorn inside the test's own event loop, on loopback.

``serve_app(app)`` runs any ASGI app (its lifespan included) on ``127.0.0.1`` and an
ephemeral port, yields ``http://127.0.0.1:PORT`` once uvicorn reports that it has
started (no fixed sleeps), and shuts it down cleanly when the block ends. Uvicorn's
signal handlers are not installed: the test runner keeps Ctrl+C. It lives in
`fediverse_share.loopback` (the demo serves its communities with it) and is
re-exported here with `bind_loopback` and `ServerFailedToStart`.

``serve_static_fixtures()`` serves recorded documents from
``tests/fixtures/<host>/<path>.json`` as ``application/activity+json``: the document
recorded for ``https://<host>/<path>`` is served at ``<base_url>/<host>/<path>``.
Every ``https://<host>`` that has a fixture directory is rewritten to
``<base_url>/<host>`` in the served text, so that ids still equal the URLs they are
fetched from and references between recorded documents can be followed over HTTP.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fediverse_share.errors import ServerFailedToStart
from fediverse_share.loopback import bind_loopback, serve_app

__all__ = [
    "ServerFailedToStart",
    "bind_loopback",
    "fixture_path",
    "fixture_url",
    "serve_app",
    "serve_static_fixtures",
    "static_fixtures_app",
]
FIXTURES_ROOT = Path(__file__).resolve().parent.parent / "fixtures"
ACTIVITY_JSON = "application/activity+json"


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
