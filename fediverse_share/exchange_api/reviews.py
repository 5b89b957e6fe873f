"""Reviews of settled trades, and members' reputation.

A party of a settled trade reviews the other party once (`exchange.reviews`): sending
the very same review again answers it again, changing nothing; a different one is a
409 ``review_exists``. A review stays hidden from others (``visible: false``) until
both sides have reviewed or 14 days have passed. A member's reputation is the score of
`exchange.reputation` with the visible reviews it rests on and each reviewer's weight.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from exchange.errors import ReviewExists
from exchange.reputation import Reputation, get_reputation
from exchange.reviews import Review, list_trade_reviews, write_review
from exchange.trade_terms import Party
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest
from fediverse_share.exchange_api.caller import (
    READ,
    WRITE,
    idempotency_key,
    path_param,
    read_object,
    reject_unknown_fields,
    require_member,
    required_str,
    runtime_of,
)
from fediverse_share.exchange_api.errors import UnknownMember
from fediverse_share.exchange_api.handles import parse_local_handle
from fediverse_share.exchange_api.render import render_reputation, render_review
from fediverse_share.exchange_api.trades import get_visible_trade
from fediverse_share.members import find_member
from fediverse_share.runtime import Runtime
from fediverse_share.trades.reviews import after_local_review

REVIEW_FIELDS = frozenset({"id", "rating", "text"})


def parse_rating(body: dict[str, Any]) -> int:
    rating = body.get("rating")
    if type(rating) is not int or not 1 <= rating <= 5:
        raise BadRequest("rating is a whole number from 1 to 5", code="invalid_request")
    return rating


def _review(
    conn: Connection,
    runtime: Runtime,
    trade_id: str,
    reviewer: str,
    rating: int,
    text: str,
    at_us: int,
) -> tuple[Review, bool]:
    trade = get_visible_trade(conn, trade_id, reviewer)
    try:
        review = write_review(conn, trade_id, reviewer, rating, text, at_us)
    except ReviewExists as exists:
        if (exists.review.rating, exists.review.text) != (rating, text):
            raise
        review = exists.review  # the same review again: answer it again
    else:
        after_local_review(conn, runtime, trade, review)  # to the other community, if any
    return review, review in list_trade_reviews(conn, trade_id, at_us)


async def review_trade(request: Request) -> Response:
    member = await require_member(request, *WRITE)
    body = await read_object(request)
    reject_unknown_fields(body, REVIEW_FIELDS)
    idempotency_key(request, body)  # a side reviews once: the trade is the key
    rating, text = parse_rating(body), required_str(body, "text")
    runtime = runtime_of(request)
    trade_id = path_param(request, "trade_id")
    review, visible = await runtime.db.write(
        _review, runtime, trade_id, member.username, rating, text, now_us()
    )
    rendered = render_review(review, runtime.instance.domain, visible=visible)
    return JSONResponse(rendered, status_code=201)


def _reputation(conn: Connection, username: str, at_us: int) -> Reputation:
    if find_member(conn, username) is None:
        raise UnknownMember(f"there is no member {username!r} here")
    return get_reputation(conn, Party.local(username), at_us)


async def show_reputation(request: Request) -> Response:
    await require_member(request, *READ)
    runtime = runtime_of(request)
    domain = runtime.instance.domain
    username = parse_local_handle(path_param(request, "handle"), domain, "handle")
    reputation = await runtime.db.read(_reputation, username, now_us())
    return JSONResponse(render_reputation(reputation, domain))
