"""Mastodon's pagination: ``max_id``, ``since_id``, ``min_id`` and ``limit`` in, a
``Link`` header out (``next`` first, because toot reads only the first link).

Ids are snowflakes, so "older" and "newer" are plain integer comparisons on an
indexed id column:

* ``max_id``: only ids below it (the next, older page);
* ``since_id``: only ids above it, newest first (the newest page, bounded below);
* ``min_id``: the ids just above it, oldest of them first in the query and then
  reversed, so that a client can walk forward in time page by page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select

from fediverse_share.errors import BadRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


@dataclass(frozen=True, slots=True)
class Page:
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None
    limit: int = DEFAULT_LIMIT

    @property
    def ascending(self) -> bool:
        """True when the query must run oldest first (``min_id`` without ``max_id``)."""
        return self.min_id is not None

    def apply(self, query: Select[Any], column: ColumnElement[Any]) -> Select[Any]:
        """``query`` bounded, ordered and limited on the id ``column``."""
        if self.max_id is not None:
            query = query.where(column < self.max_id)
        if self.since_id is not None:
            query = query.where(column > self.since_id)
        if self.min_id is not None:
            query = query.where(column > self.min_id)
        order = column.asc() if self.ascending else column.desc()
        return query.order_by(order).limit(self.limit)

    def newest_first(self, ids: Sequence[int]) -> list[int]:
        return sorted(ids, reverse=True)


def _id_param(params: Mapping[str, Any], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 20:
        raise BadRequest(f"{name} must be a numeric id", code="invalid_id")
    return int(text)


def parse_page(
    params: Mapping[str, Any], *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT
) -> Page:
    """The page a request asks for; a limit outside 1..maximum is clamped, as Mastodon does."""
    raw_limit = params.get("limit")
    limit = default
    if raw_limit not in (None, ""):
        text = str(raw_limit).strip()
        if not text.lstrip("-").isdigit():
            raise BadRequest("limit must be a number", code="invalid_limit")
        limit = min(max(int(text), 1), maximum)
    return Page(
        max_id=_id_param(params, "max_id"),
        since_id=_id_param(params, "since_id"),
        min_id=_id_param(params, "min_id"),
        limit=limit,
    )


def link_header(url: str, params: Mapping[str, Any], ids: Sequence[int]) -> str | None:
    """``Link`` for a page whose items have ``ids`` (newest first); None if it is empty.

    ``url`` is the endpoint without a query; the other query parameters are kept.
    """
    if not ids:
        return None
    kept = [
        (key, value) for key, value in _flat(params) if key not in ("max_id", "since_id", "min_id")
    ]
    older = urlencode([*kept, ("max_id", str(min(ids)))])
    newer = urlencode([*kept, ("min_id", str(max(ids)))])
    return f'<{url}?{older}>; rel="next", <{url}?{newer}>; rel="prev"'


def _flat(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, list):
            pairs.extend((f"{key}[]", str(item)) for item in value)
        elif isinstance(value, str | int):
            pairs.append((key, str(value)))
    return pairs
