"""Ordered collections and their pages (outbox, followers, following).

We serve collections the way Mastodon does: the collection document carries
``totalItems`` and a ``first`` page URL; items live on pages linked by ``next`` and
``prev``. Items are ids (strings) or embedded objects, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from activitypub.vocabulary import AS2_CONTEXT

Item = str | Mapping[str, Any]


def render_ordered_collection(
    id: str, total_items: int, first_url: str | None, *, last_url: str | None = None
) -> dict[str, Any]:
    """An ``OrderedCollection`` that points at its first page."""
    document: dict[str, Any] = {
        "@context": AS2_CONTEXT,
        "id": id,
        "type": "OrderedCollection",
        "totalItems": total_items,
    }
    if first_url is not None:
        document["first"] = first_url
    if last_url is not None:
        document["last"] = last_url
    return document


def render_ordered_collection_page(
    id: str,
    part_of: str,
    items: Sequence[Item],
    next_url: str | None,
    prev_url: str | None,
    *,
    total_items: int | None = None,
) -> dict[str, Any]:
    """One ``OrderedCollectionPage`` of ``part_of``, with links to its neighbours."""
    document: dict[str, Any] = {
        "@context": AS2_CONTEXT,
        "id": id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": [item if isinstance(item, str) else dict(item) for item in items],
    }
    if total_items is not None:
        document["totalItems"] = total_items
    if next_url is not None:
        document["next"] = next_url
    if prev_url is not None:
        document["prev"] = prev_url
    return document
