"""What a listing is: an offer or a need, with what it asks in return.

A member's draft is parsed here (`parse_draft`) into a `Draft`; stored listings come
back as `Listing`. Prices are in the community's currency, as minor units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from exchange.money import Currency, parse_amount, render_amount
from fediverse_share import tables
from fediverse_share.errors import BadRequest, NotFound


class Purpose(StrEnum):
    OFFER = "offer"
    REQUEST = "request"  # a need: FEP-0837 calls it a request

    @property
    def label(self) -> str:
        """How people read it: ``Offer`` or ``Need``."""
        return "Offer" if self is Purpose.OFFER else "Need"


class Kind(StrEnum):
    GIVE = "give"
    LEND = "lend"
    RENT = "rent"
    SELL = "sell"
    SWAP = "swap"
    SERVICE = "service"


#: Kinds that move no money: a price makes no sense for them.
UNPRICED = frozenset({Kind.GIVE, Kind.LEND, Kind.SWAP})
CATEGORY_RE = re.compile(r"[a-z0-9_]{1,64}")
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 5_000


@dataclass(frozen=True, slots=True)
class Draft:
    purpose: Purpose
    kind: Kind
    title: str
    description: str
    category: str
    price_minor: int | None
    quantity: str = "1"
    unit: str = "one"
    location: str | None = None
    expires_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    id: int
    uri: str
    author_id: int
    local: bool
    purpose: Purpose
    kind: Kind
    title: str
    description: str
    category: str
    price_text: str | None
    price_minor: int | None
    currency_code: str | None
    location: str | None
    expires_at_us: int | None
    published_at_us: int
    withdrawn: bool

    @classmethod
    def from_row(cls, row: RowMapping) -> Listing:
        return cls(
            row["id"],
            row["uri"],
            row["author_id"],
            row["local"],
            Purpose(row["purpose"]),
            Kind(row["kind"]),
            row["title"],
            row["description"],
            row["category"],
            row["price_text"],
            row["price_minor"],
            row["currency_code"],
            row["location"],
            row["expires_at_us"],
            row["published_at_us"],
            row["withdrawn_at_us"] is not None,
        )


def _text(params: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest(f"{name} is required", code="invalid_listing")
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(
            f"{name} must be text of at most {limit} characters", code="invalid_listing"
        )
    return value.strip()


def _choice(params: dict[str, Any], name: str, kind: type[StrEnum], default: str) -> Any:
    value = params.get(name, default)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise BadRequest(f"{name} must be one of {allowed}", code="invalid_listing") from None


def _expiry(value: Any, now_us: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("expires_at must be an ISO date", code="invalid_listing") from None
    at_us = int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1e6)
    if at_us <= now_us:
        raise BadRequest("expires_at must be in the future", code="invalid_listing")
    return at_us


def parse_draft(params: dict[str, Any], currency: Currency, now_us: int) -> Draft:
    """A member's listing from API parameters; raises `BadRequest` with a clear message."""
    kind = _choice(params, "kind", Kind, "give")
    category = _text(params, "category", 64, required=False).lower() or "general"
    if not CATEGORY_RE.fullmatch(category):
        raise BadRequest("category is letters, digits and underscores", code="invalid_listing")
    price = params.get("price")
    price_minor = None
    if price not in (None, ""):
        if kind in UNPRICED:
            raise BadRequest(f"a {kind.value} listing has no price", code="invalid_listing")
        if (params.get("currency") or currency.code) != currency.code:
            raise BadRequest(f"prices are in {currency.code}", code="wrong_currency")
        price_minor = parse_amount(str(price), currency)
    return Draft(
        purpose=_choice(params, "purpose", Purpose, "offer"),
        kind=kind,
        title=_text(params, "title", MAX_TITLE_CHARS),
        description=_text(params, "description", MAX_DESCRIPTION_CHARS, required=False),
        category=category,
        price_minor=price_minor,
        quantity=_text(params, "quantity", 40, required=False) or "1",
        location=_text(params, "location", 200, required=False) or None,
        expires_at_us=_expiry(params.get("expires_at"), now_us),
    )


def render_price(draft: Draft, currency: Currency) -> str | None:
    return None if draft.price_minor is None else render_amount(draft.price_minor, currency)


def find_listing(conn: Connection, listing_id: int) -> Listing | None:
    row = (
        conn.execute(select(tables.listings).where(tables.listings.c.id == listing_id))
        .mappings()
        .first()
    )
    return None if row is None else Listing.from_row(row)


def get_listing(conn: Connection, listing_id: int) -> Listing:
    listing = find_listing(conn, listing_id)
    if listing is None:
        raise NotFound("no such listing")
    return listing
