"""Streaming endpoints: the WebSocket at ``/api/v1/streaming`` (token from the
``Authorization`` header, ``?access_token=`` or ``Sec-WebSocket-Protocol``, which
is echoed back as masto.js expects), server-sent events at
``/api/v1/streaming/<stream>`` (what Mastodon.py uses), and the health check.
What is sent is decided in `fediverse_share.mastodon.streaming`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fediverse_share import members
from fediverse_share.errors import NotFound
from fediverse_share.mastodon import streaming
from fediverse_share.mastodon.statuses import Viewer
from fediverse_share.oauth import tokens
from fediverse_share.oauth.errors import InsufficientScope, InvalidToken, MissingToken
from fediverse_share.runtime import Runtime

_SCOPES = ("read:statuses", "read:notifications")
_MAX_TOKEN_LENGTH = 512


def _runtime(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def _token(connection: HTTPConnection, *, protocol: bool) -> tuple[str | None, bool]:
    """The bearer token, and whether it came as the WebSocket subprotocol."""
    scheme, _, value = connection.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    if connection.query_params.get("access_token"):
        return connection.query_params["access_token"], False
    offered = connection.headers.get("sec-websocket-protocol", "").strip()
    return (offered, True) if protocol and offered else (None, False)


async def _viewer(connection: HTTPConnection, token: str | None) -> Viewer | None:
    """The member streaming; a bad token or scope raises, an app token gives None."""
    if token is None:
        raise MissingToken("The access token is missing")
    runtime = _runtime(connection)
    grant = (
        await runtime.db.read(tokens.find_grant, token) if len(token) <= _MAX_TOKEN_LENGTH else None
    )
    if grant is None:
        raise InvalidToken("The access token is invalid")
    if not grant.allows(*_SCOPES):
        raise InsufficientScope("This action is outside the authorized scopes")
    if grant.user_id is None:
        return None
    member = await runtime.db.read(members.get_member_by_user_id, grant.user_id)
    return Viewer(member.actor_id, member.user_id)


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


def _sse_subscription(request: Request) -> streaming.Subscription:
    path = request.url.path.removeprefix("/api/v1/streaming/").strip("/")
    stream = path.replace("/", ":")
    local = request.query_params.get("local", "").lower() in ("1", "true")
    if stream in ("public", "hashtag") and local:
        stream += ":local"
    found = streaming.parse_subscription(stream, request.query_params.get("tag"))
    if found is None:
        raise NotFound("Unknown stream type")
    return found


async def server_sent_events(request: Request) -> Response:
    subscription = _sse_subscription(request)
    viewer = await _viewer(request, _token(request, protocol=False)[0])
    runtime = _runtime(request)
    cursor = await runtime.db.read(streaming.start, viewer)

    async def events() -> AsyncIterator[str]:
        yield ":)\n\n"
        quiet_since = time.monotonic()
        while True:
            found = await runtime.db.read(
                streaming.poll, [subscription], cursor, runtime.instance, viewer
            )
            for event in found:
                yield f"event: {event.event}\ndata: {event.payload}\n\n"
                quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > streaming.HEARTBEAT_SECONDS:
                yield ":thump\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(streaming.POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _change(subscriptions: list[streaming.Subscription], raw: str) -> dict[str, object] | None:
    """Apply a client's subscribe/unsubscribe message; an error message to send, if any."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"error": "Malformed message", "status": 400}
    if not isinstance(message, dict) or message.get("type") not in ("subscribe", "unsubscribe"):
        return {"error": "Unknown message type", "status": 400}
    tag = message.get("tag")
    wanted = streaming.parse_subscription(
        message.get("stream"), tag if isinstance(tag, str) else None
    )
    if wanted is None:
        return {"error": "Unknown stream type", "status": 400}
    if message["type"] == "subscribe" and wanted not in subscriptions:
        subscriptions.append(wanted)
    elif message["type"] == "unsubscribe" and wanted in subscriptions:
        subscriptions.remove(wanted)
    return None


async def websocket_stream(websocket: WebSocket) -> None:
    token, as_protocol = _token(websocket, protocol=True)
    try:
        viewer = await _viewer(websocket, token)
    except (InvalidToken, InsufficientScope):
        await websocket.close(code=1008)  # before accepting: the handshake gets a 403
        return
    await websocket.accept(subprotocol=token if as_protocol else None)
    runtime = _runtime(websocket)
    subscriptions: list[streaming.Subscription] = []
    initial = streaming.parse_subscription(
        websocket.query_params.get("stream"), websocket.query_params.get("tag")
    )
    if initial is not None:
        subscriptions.append(initial)
    cursor = await runtime.db.read(streaming.start, viewer)
    inbox: asyncio.Queue[str | None] = asyncio.Queue()

    async def read() -> None:
        try:
            while True:
                inbox.put_nowait(await websocket.receive_text())
        except WebSocketDisconnect:
            inbox.put_nowait(None)

    reader = asyncio.create_task(read())
    try:
        while True:
            try:
                raw: str | None = await asyncio.wait_for(inbox.get(), streaming.POLL_SECONDS)
            except TimeoutError:
                raw = ""
            if raw is None:
                return
            if raw and (problem := _change(subscriptions, raw)) is not None:
                await websocket.send_text(orjson.dumps(problem).decode())
            found = await runtime.db.read(
                streaming.poll, list(subscriptions), cursor, runtime.instance, viewer
            )
            for event in found:
                await websocket.send_text(event.render())
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


def routes() -> list[BaseRoute]:
    streams = ["user", "user/notification", "public", "public/local", "public/remote"]
    return [
        Route("/api/v1/streaming/health", health),
        *(Route(f"/api/v1/streaming/{name}", server_sent_events) for name in streams),
        Route("/api/v1/streaming/hashtag", server_sent_events),
        Route("/api/v1/streaming/hashtag/local", server_sent_events),
        WebSocketRoute("/api/v1/streaming", websocket_stream),
        WebSocketRoute("/api/v1/streaming/", websocket_stream),
    ]
