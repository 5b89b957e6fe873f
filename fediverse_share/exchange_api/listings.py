"""Listings through the exchange API: create, show, edit, withdraw, search, matches, photos.

Reads are public (a token is not needed; a bad one is still a 401): any listing this
instance knows, local or remote, by its id. Writes need ``write`` and, except creating,
the listing's author: to anybody else a listing is there but not theirs (403), and a
listing of another community cannot be changed from here (404). Creating takes an
``Idempotency-Key`` (`fediverse_share.listings.keys`); editing sets the fields it names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection, select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange.settings import get_currency
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest, NotFound, PayloadTooLarge
from fediverse_share.exchange_api.caller import (
    READ,
    WRITE,
    idempotency_key,
    path_param,
    read_object,
    reject_unknown_fields,
    require_member,
    runtime_of,
)
from fediverse_share.exchange_api.listing_queries import (
    PAGE_PARAMS,
    SEARCH_PARAMS,
    check_params,
    parse_page,
    parse_search,
    resolve_community,
)
from fediverse_share.exchange_api.render import render_listing, render_match
from fediverse_share.listings import keys, photos, store
from fediverse_share.listings.model import get_listing, parse_draft
from fediverse_share.listings.search import search
from fediverse_share.listings.views import get_view, list_matches, load_views
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.web.auth import optional_token

LISTING_FIELDS = frozenset(
    {"id", "title", "description", "category", "kind", "purpose", "price", "currency",
     "quantity", "location", "expires_at"}
)  # fmt: skip
#: Room for the multipart framing and a description around a photo of the largest size.
_FORM_OVERHEAD_BYTES = 64 * 1024


def listing_id_of(request: Request) -> int:
    """The ``listing_id`` path parameter; anything but a snowflake id is not found."""
    text = path_param(request, "listing_id")
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound("no such listing", code="unknown_listing")
    return int(text)


def _url(runtime: Runtime, listing_id: int) -> str:
    return f"{runtime.instance.base_url}/api/exchange/v1/listings/{listing_id}"


async def _show(request: Request, listing_id: int, status: int = 200) -> Response:
    runtime = runtime_of(request)
    view = await runtime.db.read(get_view, listing_id)
    headers = {"Location": _url(runtime, listing_id)} if status == 201 else None
    return JSONResponse(render_listing(view, now_us()), status_code=status, headers=headers)


async def create_listing(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    body = await read_object(request)
    reject_unknown_fields(body, LISTING_FIELDS)
    key = idempotency_key(request, body)
    runtime = runtime_of(request)
    listing = await runtime.db.write(keys.create_listing, runtime, member, body, key, now_us())
    return await _show(request, listing.id, 201)


async def show_listing(request: Request) -> Response:
    await optional_token(request)
    return await _show(request, listing_id_of(request))


def _current(conn: Connection, listing_id: int) -> dict[str, Any]:
    """The listing's fields as a body would give them (what an edit keeps)."""
    row = (
        conn.execute(select(tables.listings).where(tables.listings.c.id == listing_id))
        .mappings()
        .one()
    )
    names = ("purpose", "kind", "title", "description", "category", "quantity", "location")
    return {**{name: row[name] for name in names}, "price": row["price_text"]}


def _edit(
    conn: Connection, runtime: Runtime, member: Member, listing_id: int, body: dict[str, Any]
) -> None:
    own = store.get_own_listing(conn, member.actor_id, listing_id)
    fields = {**_current(conn, listing_id), **body}
    if "expires_at" not in body:
        fields.pop("expires_at", None)
    draft = parse_draft(fields, get_currency(conn), now_us())
    if "expires_at" not in body:
        draft = dataclasses.replace(draft, expires_at_us=own.expires_at_us)
    unit = conn.execute(
        select(tables.listings.c.unit).where(tables.listings.c.id == listing_id)
    ).scalar_one()
    store.edit_listing(
        conn, runtime, member.actor_id, listing_id, dataclasses.replace(draft, unit=unit)
    )


async def edit_listing(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    listing_id = listing_id_of(request)
    body = await read_object(request)
    reject_unknown_fields(body, LISTING_FIELDS)
    idempotency_key(request, body)  # checked, not kept: an edit sets what it names
    runtime = runtime_of(request)
    await runtime.db.write(
        _edit, runtime, member, listing_id, {k: v for k, v in body.items() if k != "id"}
    )
    return await _show(request, listing_id)


def _withdraw(conn: Connection, runtime: Runtime, member: Member, listing_id: int) -> None:
    listing = get_listing(conn, listing_id)
    if listing.withdrawn and listing.local and listing.author_id == member.actor_id:
        return  # withdrawn already: repeating it changes nothing
    store.withdraw_listing(conn, runtime, member.actor_id, listing_id)


async def withdraw_listing(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    listing_id = listing_id_of(request)
    runtime = runtime_of(request)
    await runtime.db.write(_withdraw, runtime, member, listing_id)
    return await _show(request, listing_id)


def _search(conn: Connection, params: dict[str, str], at_us: int) -> dict[str, Any]:
    currency = get_currency(conn)
    community = params.get("community")
    community_uri = None if not community else resolve_community(conn, community)
    query = parse_search(params, currency, community_uri)
    found = [] if community and community_uri is None else search(conn, query, at_us)
    views = load_views(conn, [listing.id for listing, _ in found])
    more = len(found) == query.limit
    return {
        "listings": [render_listing(views[listing.id], at_us) for listing, _ in found],
        "next_offset": query.offset + query.limit if more else None,
    }


async def search_listings(request: Request) -> Response:
    await optional_token(request)
    params = dict(request.query_params)
    check_params(params, SEARCH_PARAMS)
    runtime = runtime_of(request)
    return JSONResponse(await runtime.db.read(_search, params, now_us()))


async def show_matches(request: Request) -> Response:
    member = await require_member(request, *READ)
    params = dict(request.query_params)
    check_params(params, PAGE_PARAMS)
    limit, offset = parse_page(params)
    runtime = runtime_of(request)
    matches = await runtime.db.read(list_matches, member.user_id, limit, offset)
    at = now_us()
    return JSONResponse(
        {
            "matches": [render_match(match, at) for match in matches],
            "next_offset": offset + limit if len(matches) == limit else None,
        }
    )


async def add_photo(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    listing_id = listing_id_of(request)
    idempotency_key(request, {})
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > photos.MAX_PHOTO_BYTES + _FORM_OVERHEAD_BYTES:
        raise PayloadTooLarge(
            f"a photo is at most {photos.MAX_PHOTO_BYTES} bytes", code="photo_too_large"
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise BadRequest("send the photo as multipart/form-data, in file", code="invalid_photo")
    async with request.form(max_files=1, max_fields=2, max_part_size=4096) as form:
        file, description = form.get("file"), form.get("description")
        if not isinstance(file, UploadFile):
            raise BadRequest("file is required: the photo's bytes", code="invalid_photo")
        data = await file.read(photos.MAX_PHOTO_BYTES + 1)
    await photos.add_photo(runtime_of(request), member, listing_id, data, description)
    return await _show(request, listing_id, 201)
