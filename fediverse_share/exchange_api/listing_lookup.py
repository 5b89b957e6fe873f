"""``GET /listings/lookup?from=``: listings fetched on demand, by a handle or a URL.

A member names an actor (``@name@domain``, ``acct:``, or its URL) or one listing (its
URL). The server fetches what that names now (`federation.resolving.posts_named_by`:
an actor's listings from its outbox, a community's the ones it announced), stores it as
if it had come to the inbox (searchable, matched), and answers the listings that are
active. Members only, as Mastodon's ``resolve``: it makes this server fetch from the
network. Nothing found is an empty page. What the other server says is not there is a
404 (``not_found``, or ``gone`` for a listing withdrawn there); a server that does not
answer is the fetch's 502 (``fetch_failed``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from activitypub.errors import FetchFailed
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest, NotFound
from fediverse_share.exchange_api.caller import READ, require_member, runtime_of
from fediverse_share.exchange_api.listing_queries import check_params
from fediverse_share.exchange_api.render import render_listing
from fediverse_share.exchange_api.spec import Param
from fediverse_share.federation import resolving
from fediverse_share.listings.views import load_views

FROM = Param(
    "from", "query", {"type": "string", "minLength": 3, "maxLength": 300},
    "an actor's handle (@name@domain) or URL, or a listing's URL", required=True,
)  # fmt: skip


def _active(conn: Connection, post_ids: list[int], at_us: int) -> dict[str, Any]:
    views = load_views(conn, post_ids)
    shown = [views[i] for i in post_ids if i in views and views[i].state(at_us) == "active"]
    return {"listings": [render_listing(view, at_us) for view in shown], "next_offset": None}


async def lookup_listings(request: Request) -> Response:
    await require_member(request, *READ)
    params = dict(request.query_params)
    check_params(params, frozenset({"from"}))
    target = params.get("from", "").strip()
    if not 3 <= len(target) <= 300:
        raise BadRequest("from is @name@domain or a URL", code="invalid_query")
    runtime = runtime_of(request)
    try:
        post_ids = await resolving.posts_named_by(runtime, target)
    except FetchFailed as error:
        if error.status not in (404, 410):
            raise
        code = "gone" if error.status == 410 else "not_found"
        raise NotFound(f"{target} is not there", code=code) from None
    return JSONResponse(await runtime.db.read(_active, post_ids, now_us()))
