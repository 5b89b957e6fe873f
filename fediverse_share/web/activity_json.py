"""Content negotiation and responses for ActivityStreams documents."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

ACTIVITY_JSON = "application/activity+json"
_AP_TYPES = ("application/activity+json", "application/ld+json", "application/json")


def wants_activity_json(request: Request) -> bool:
    """True when the client asks for ActivityStreams rather than a page."""
    accept = request.headers.get("accept", "").lower()
    return any(kind in accept for kind in _AP_TYPES)


class ActivityJSONResponse(Response):
    media_type = ACTIVITY_JSON

    def __init__(self, content: dict[str, Any], status_code: int = 200) -> None:
        super().__init__(content, status_code, headers={"Vary": "Accept"})

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class JRDResponse(Response):
    media_type = "application/jrd+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
