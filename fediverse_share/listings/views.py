"""Listings as members' apps read them: the stored fields, the author, the photos, the
state, and a member's matches.

A view is built for any listing this instance knows, local or remote. Its photos come
from the post's own ``attachment`` list (ours point at ``/media/…``, remote ones at
their origin), so what the API shows is what the fediverse was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, select

from fediverse_share import tables
from fediverse_share.errors import NotFound

#: What a photo may be (``attachment`` entries of these types with an http(s) URL).
_PHOTO_TYPES = frozenset({"Image", "Document"})


@dataclass(frozen=True, slots=True)
class Photo:
    url: str
    media_type: str | None
    width: int | None
    height: int | None
    description: str | None


@dataclass(frozen=True, slots=True)
class ListingView:
    """One listing's row (``tables.listings``), its author's handle and its photos."""

    row: RowMapping
    author_username: str
    author_domain: str
    photos: tuple[Photo, ...]

    @property
    def id(self) -> int:
        listing_id: int = self.row["id"]
        return listing_id

    def state(self, at_us: int) -> str:
        if self.row["withdrawn_at_us"] is not None:
            return "withdrawn"
        expires = self.row["expires_at_us"]
        return "expired" if expires is not None and expires <= at_us else "active"


@dataclass(frozen=True, slots=True)
class MatchView:
    id: int
    score: int
    created_at_us: int
    own: ListingView
    other: ListingView


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_photos(document: Mapping[str, Any]) -> tuple[Photo, ...]:
    """The images a Note carries in ``attachment``, in order."""
    items = document.get("attachment")
    items = [items] if isinstance(items, dict) else items
    photos = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("type") not in _PHOTO_TYPES:
            continue
        url = item.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            continue
        kind, name = item.get("mediaType"), item.get("name")
        photos.append(
            Photo(
                url,
                kind if isinstance(kind, str) else None,
                _int(item.get("width")),
                _int(item.get("height")),
                name if isinstance(name, str) and name else None,
            )
        )
    return tuple(photos)


def load_views(conn: Connection, listing_ids: list[int]) -> dict[int, ListingView]:
    """The views of these listings, by id (unknown ids are left out)."""
    if not listing_ids:
        return {}
    l, a, p = tables.listings, tables.actors, tables.posts  # noqa: E741
    query = (
        select(l, a.c.username.label("_username"), a.c.domain.label("_domain"),
               p.c.document.label("_document"))
        .select_from(l.join(a, a.c.id == l.c.author_id).join(p, p.c.id == l.c.id))
        .where(l.c.id.in_(listing_ids))
    )  # fmt: skip
    views = {}
    for row in conn.execute(query).mappings():
        document = orjson.loads(row["_document"])
        views[row["id"]] = ListingView(
            row, row["_username"], row["_domain"], parse_photos(document)
        )
    return views


def get_view(conn: Connection, listing_id: int) -> ListingView:
    view = load_views(conn, [listing_id]).get(listing_id)
    if view is None:
        raise NotFound("no such listing", code="unknown_listing")
    return view


def list_matches(conn: Connection, user_id: int, limit: int, offset: int) -> list[MatchView]:
    """A member's matches, newest first."""
    m = tables.listing_matches
    rows = conn.execute(
        select(m).where(m.c.user_id == user_id).order_by(m.c.id.desc()).limit(limit).offset(offset)
    ).mappings()
    found = list(rows)
    ids = {r["own_listing_id"] for r in found} | {r["matched_listing_id"] for r in found}
    views = load_views(conn, sorted(ids))
    return [
        MatchView(
            r["id"], r["score"], r["created_at_us"],
            views[r["own_listing_id"]], views[r["matched_listing_id"]],
        )
        for r in found
    ]  # fmt: skip
