"""The loopback server helper that every federation test relies on."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.serve import (
    ServerFailedToStart,
    fixture_url,
    serve_app,
    serve_static_fixtures,
)


def _app(events: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.url.path})

    return Starlette(routes=[Route("/{rest:path}", hello)], lifespan=lifespan)


async def test_serves_on_an_ephemeral_loopback_port_with_lifespan():
    """The app answers on 127.0.0.1 once started, and its lifespan runs both ways."""
    events: list[str] = []
    before = signal.getsignal(signal.SIGINT)
    async with serve_app(_app(events)) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert events == ["startup"]
        assert signal.getsignal(signal.SIGINT) is before
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{base_url}/x")
        assert response.json() == {"hello": "/x"}
    assert events == ["startup", "shutdown"]


async def test_two_servers_run_side_by_side():
    """Two servers in one event loop get distinct ports."""
    async with serve_app(_app([])) as one, serve_app(_app([])) as two:
        assert one != two


async def test_a_failing_lifespan_is_an_ordinary_error():
    """A lifespan that fails at startup raises in the test instead of exiting."""

    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    with pytest.raises(ServerFailedToStart):
        async with serve_app(Starlette(lifespan=broken)):
            pass


async def test_static_fixtures_are_served_as_activity_json_with_ids_rewritten():
    """Recorded documents come back over HTTP as activity+json, ids pointing at loopback."""
    async with serve_static_fixtures() as base_url, httpx.AsyncClient() as client:
        url = fixture_url(base_url, "https://mastodon.madrid/users/felix")
        response = await client.get(url)
        missing = await client.get(f"{base_url}/mastodon.madrid/users/nobody")
        escape = await client.get(f"{base_url}/mastodon.madrid/..%2F..%2Fconftest")
    assert response.headers["content-type"].startswith("application/activity+json")
    document = response.json()
    assert document["id"] == url
    assert document["inbox"] == f"{url}/inbox"
    assert document["publicKey"]["owner"] == url
    assert missing.status_code == 404
    assert escape.status_code == 404
