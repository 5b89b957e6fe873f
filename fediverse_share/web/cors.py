"""CORS as Mastodon does it: ``*`` on the API, OAuth token endpoints and discovery."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_OPEN_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/", "/nodeinfo/")
_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Accept"
_EXPOSE_HEADERS = "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id"
_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"


class MastodonCORSMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = "*"
                out["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send) -> None:
    headers = [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", _METHODS.encode()),
        (b"access-control-allow-headers", _ALLOW_HEADERS.encode()),
        (b"access-control-max-age", b"7200"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
