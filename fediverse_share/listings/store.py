"""Publishing, editing and withdrawing listings, and storing remote ones.

A listing is a post (the Note the fediverse sees, same id) plus a ``listings`` row
with its structured fields. Publishing is one write: post, listing, ``Create`` to
the author's followers and the community's two Announces (FEP-1b12), like any note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, insert, select, update

from exchange.money import Currency
from exchange.settings import get_currency
from fediverse_share import tables
from fediverse_share.clock import now_us, render_iso
from fediverse_share.errors import Forbidden, NotFound
from fediverse_share.federation import publish
from fediverse_share.listings import matching
from fediverse_share.listings.model import Draft, Listing, get_listing, render_price
from fediverse_share.listings.wire import Price, RemoteListing, render_proposal_fields
from fediverse_share.runtime import Runtime


def _price(runtime: Runtime, draft: Draft, currency: Currency) -> Price | None:
    text = render_price(draft, currency)
    if text is None:
        return None
    return Price(text, currency.code, f"{runtime.instance.base_url}/currencies/{currency.code}")


def _document(
    runtime: Runtime, actor: RowMapping, post_id: int, draft: Draft, currency: Currency, at_us: int
) -> dict[str, Any]:
    note = publish.note_document(runtime, actor, post_id, "", "public", at_us, None)
    tags = f"{runtime.instance.base_url}/tags"
    resource = f"{runtime.instance.base_url}/categories/{draft.category}"
    price = _price(runtime, draft, currency)
    note.update(render_proposal_fields(note["id"], draft, price, tags, resource, note["url"]))
    if draft.expires_at_us is not None:
        note["endTime"] = render_iso(draft.expires_at_us)
    return note


def _listing_values(draft: Draft, price: Price | None) -> dict[str, Any]:
    return {
        "purpose": draft.purpose.value,
        "kind": draft.kind.value,
        "title": draft.title,
        "description": draft.description,
        "category": draft.category,
        "price_text": price.text if price else None,
        "price_minor": draft.price_minor,
        "currency_code": price.currency_code if price else None,
        "currency_uri": price.currency_uri if price else None,
        "quantity": draft.quantity,
        "unit": draft.unit,
        "location": draft.location,
        "expires_at_us": draft.expires_at_us,
    }


def publish_listing(
    conn: Connection,
    runtime: Runtime,
    actor_id: int,
    draft: Draft,
    post_id: int | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Listing:
    """Store a member's listing and send it out; returns it. ``post_id`` is a fresh id
    the caller already took (to remember an idempotency key under it), or None;
    ``extra`` adds fields to the Note (a status's photos as ``attachment``, its text as
    ``source``)."""
    actor = publish.local_actor(conn, actor_id)
    currency = get_currency(conn)
    at = now_us()
    post_id = runtime.ids.next_id() if post_id is None else post_id
    note = _document(runtime, actor, post_id, draft, currency, at)
    note.update(extra or {})
    conn.execute(
        insert(tables.posts).values(
            id=post_id,
            uri=note["id"],
            actor_id=actor_id,
            type="Proposal",
            content=note["content"],
            summary="",
            url=note["url"],
            visibility="public",
            local=True,
            published_at_us=at,
            document=orjson.dumps(note).decode(),
        )
    )
    conn.execute(
        insert(tables.listings).values(
            id=post_id,
            uri=note["id"],
            author_id=actor_id,
            community_uri=runtime.instance.community_uri,
            local=True,
            published_at_us=at,
            **_listing_values(draft, _price(runtime, draft, currency)),
        )
    )
    publish.send_created(conn, runtime, actor, note, at)
    matching.record_matches(conn, runtime, post_id)
    return get_listing(conn, post_id)


def edit_listing(
    conn: Connection, runtime: Runtime, actor_id: int, listing_id: int, draft: Draft
) -> Listing:
    """Replace a listing's fields and send ``Update`` with a newer ``updated``."""
    own = get_own_listing(conn, actor_id, listing_id)
    actor = publish.local_actor(conn, actor_id)
    currency = get_currency(conn)
    at = now_us()
    note = _document(runtime, actor, listing_id, draft, currency, own.published_at_us)
    note["updated"] = render_iso(at)
    previous = conn.execute(
        select(tables.posts.c.document).where(tables.posts.c.id == listing_id)
    ).scalar_one()
    if attachment := orjson.loads(previous).get("attachment"):
        note["attachment"] = attachment  # photos stay through an edit
    conn.execute(
        update(tables.posts)
        .where(tables.posts.c.id == listing_id)
        .values(content=note["content"], updated_at_us=at, document=orjson.dumps(note).decode())
    )
    conn.execute(
        update(tables.listings)
        .where(tables.listings.c.id == listing_id)
        .values(updated_at_us=at, **_listing_values(draft, _price(runtime, draft, currency)))
    )
    publish.send_updated(conn, runtime, actor, note, at)
    return get_listing(conn, listing_id)


def withdraw_listing(conn: Connection, runtime: Runtime, actor_id: int, listing_id: int) -> None:
    """Withdraw a listing: it stays in the ledger's history, the fediverse gets ``Delete``."""
    get_own_listing(conn, actor_id, listing_id)
    conn.execute(
        update(tables.listings)
        .where(tables.listings.c.id == listing_id)
        .values(withdrawn_at_us=now_us())
    )
    publish.delete_note(conn, runtime, actor_id, listing_id)


def get_own_listing(conn: Connection, actor_id: int, listing_id: int) -> Listing:
    """A live local listing of this actor; `NotFound` or `Forbidden` otherwise."""
    listing = get_listing(conn, listing_id)
    if not listing.local or listing.withdrawn:
        raise NotFound("no such listing")
    if listing.author_id != actor_id:
        raise Forbidden("only its author may change a listing")
    return listing


def store_remote_listing(
    conn: Connection, runtime: Runtime, remote: RemoteListing, post_id: int
) -> None:
    """Keep (or refresh) a remote listing beside its post; then look for matches."""
    l = tables.listings  # noqa: E741 - the table's usual short name
    price = remote.price
    values = _listing_values(remote.draft, price)
    values["price_minor"] = None  # another community's units are not ours
    existing = conn.execute(select(l.c.id).where(l.c.uri == remote.uri)).scalar()
    if existing is None:
        post = (
            conn.execute(select(tables.posts).where(tables.posts.c.id == post_id)).mappings().one()
        )
        conn.execute(
            insert(l).values(
                id=post_id,
                uri=remote.uri,
                author_id=post["actor_id"],
                community_uri=remote.community_uri,
                local=False,
                published_at_us=post["published_at_us"],
                **values,
            )
        )
        matching.record_matches(conn, runtime, post_id)
    else:
        conn.execute(update(l).where(l.c.id == existing).values(updated_at_us=now_us(), **values))


def mark_withdrawn(conn: Connection, uri: str) -> None:
    l = tables.listings  # noqa: E741
    conn.execute(
        update(l)
        .where(l.c.uri == uri, l.c.withdrawn_at_us.is_(None))
        .values(withdrawn_at_us=now_us())
    )
