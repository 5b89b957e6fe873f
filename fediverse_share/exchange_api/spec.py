"""The declarative description of an API operation, shared by the router and the document.

An `Operation` says everything about one method on one path: the handler that serves
it, who may call it (`Access`), its parameters, its request body, its success response
and the error statuses it can answer. `fediverse_share.exchange_api.openapi` lists
every operation once; from that list it builds both the Starlette routes and the
OpenAPI document, so a route cannot exist without its documentation, nor the reverse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fediverse_share.exchange_api import caller
from fediverse_share.exchange_api.schemas import Schema

Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/api/exchange/v1"
JSON = "application/json"
CSV = "text/csv"


class Access(Enum):
    """Who may call an operation, as the token scopes it needs (alternatives)."""

    PUBLIC = ()
    READ = caller.READ
    WRITE = caller.WRITE
    ADMIN_READ = caller.ADMIN_READ
    ADMIN_WRITE = caller.ADMIN_WRITE

    @property
    def scopes(self) -> tuple[str, ...]:
        scopes: tuple[str, ...] = self.value
        return scopes

    @property
    def is_admin(self) -> bool:
        return self in (Access.ADMIN_READ, Access.ADMIN_WRITE)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str  # "path", "query" or "header"
    schema: Schema
    description: str
    required: bool = False

    def render(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required or self.location == "path",
            "description": self.description,
            "schema": self.schema,
        }


IDEMPOTENCY_KEY = Param(
    caller.IDEMPOTENCY_HEADER,
    "header",
    {"type": "string", "pattern": caller.KEY_PATTERN},
    "Makes the write safe to repeat: the same key with the same body returns the same"
    " result and changes nothing; with another body it is a 409. May be sent as `id`"
    " in the body instead.",
)


_TAGS = {"openapi.json": "about", "currency": "accounts", "members": "trades"}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # the full path; OpenAPI's {name} templates are Starlette's too
    endpoint: Endpoint
    operation_id: str
    summary: str
    access: Access
    response: str | None = None  # a component schema, or None for CSV
    status: int = 200
    media_type: str = JSON
    body: str | None = None  # a component schema of the request body
    body_media_type: str = JSON  # or multipart/form-data (a file upload)
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = ()  # statuses beyond those `statuses` adds by itself
    headers: dict[str, str] = field(default_factory=dict)  # response header → description
    description: str = ""

    @property
    def tag(self) -> str:
        """The resource it belongs to: the first segment of its path, grouped."""
        segment = self.path.removeprefix(PREFIX + "/").split("/")[0]
        return _TAGS.get(segment, segment)

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")

    def error_statuses(self) -> list[int]:
        """Every error status the operation may answer, from its shape and its list."""
        found = set(self.errors)
        if self.access is not Access.PUBLIC:
            found |= {401, 403, 422}  # no/bad token; scope or not an operator; app token
        if self.body is not None or self.is_write:
            found |= {400, 413}
        if any(p.location in ("query", "header") for p in self.params):
            found.add(400)
        if any(p.location == "path" for p in self.params):
            found.add(404)
        return sorted(found)


def operation(method: str, path: str, *args: Any, **kwargs: Any) -> Operation:
    """An `Operation` on ``path`` under `PREFIX` (the tables' shorthand)."""
    return Operation(method, PREFIX + path, *args, **kwargs)
