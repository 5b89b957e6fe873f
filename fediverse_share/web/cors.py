"""CORS as Mastodon does it (``config/initializers/cors.rb``, served by rack-cors).

Any origin, no credentials, any request headers (a preflight's
``Access-Control-Request-Headers`` is echoed back), and per resource:

* ``/api/*``: GET, POST, PUT, PATCH, DELETE and OPTIONS, exposing ``Link`` and the
  rate-limit headers;
* ``/oauth/token`` and ``/oauth/revoke``: POST; ``/oauth/userinfo``: GET and POST;
* ``/.well-known/*``, ``/nodeinfo/*``, ``/@:username`` and ``/users/:username``: GET.

A preflight for a method the resource does not allow gets no CORS headers, so the
browser refuses the request; anything else (``/oauth/authorize``, a post's page)
gets none at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_EXPOSE_HEADERS = "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id"
_MAX_AGE = "7200"


@dataclass(frozen=True, slots=True)
class _Resource:
    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    expose: str = ""


_GET = ("GET",)
_RESOURCES = (
    _Resource(re.compile(r"/\.well-known/.*"), _GET),
    _Resource(re.compile(r"/nodeinfo/.*"), _GET),
    _Resource(re.compile(r"/@[^/?&#]+"), _GET),
    _Resource(re.compile(r"/users/[^/?&#]+"), _GET),
    _Resource(
        re.compile(r"/api/.*"),
        ("POST", "PUT", "DELETE", "GET", "PATCH", "OPTIONS"),
        _EXPOSE_HEADERS,
    ),
    _Resource(re.compile(r"/oauth/token"), ("POST",)),
    _Resource(re.compile(r"/oauth/revoke"), ("POST",)),
    _Resource(re.compile(r"/oauth/userinfo"), ("GET", "POST")),
)


# All the patterns as one alternation, group N for resource N: one match per request
# instead of one per resource (most paths, like the inboxes', match none of them).
_ANY_RESOURCE = re.compile("|".join(f"({r.pattern.pattern})" for r in _RESOURCES))


def _resource(path: str) -> _Resource | None:
    match = _ANY_RESOURCE.fullmatch(path)
    return None if match is None or match.lastindex is None else _RESOURCES[match.lastindex - 1]


def _headers(resource: _Resource) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", ", ".join(resource.methods).encode()),
        (b"access-control-max-age", _MAX_AGE.encode()),
    ]
    if resource.expose:
        headers.append((b"access-control-expose-headers", resource.expose.encode()))
    return headers


class MastodonCORSMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resource = _resource(scope["path"]) if scope["type"] == "http" else None
        if resource is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(send, resource, headers)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in _headers(resource):
                    out[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send, resource: _Resource, request: Headers) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"content-length", b"0")]
    if request["access-control-request-method"].strip().upper() in resource.methods:
        headers += _headers(resource)
        if asked := request.get("access-control-request-headers"):
            headers.append((b"access-control-allow-headers", asked.encode("latin-1")))
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
