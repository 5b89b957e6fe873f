"""JSON Schemas of listings, their searches, matches and photos, and of a trade proposed
on another community's listing (see `fediverse_share.exchange_api.schemas`)."""

from __future__ import annotations

from fediverse_share.exchange_api.schemas import (
    ALL,
    CURRENCY_CODE,
    INPUT_AMOUNT,
    INSTANT,
    KEY,
    Schema,
    nullable,
    obj,
    ref,
    text,
)

PURPOSE = {"enum": ["offer", "request"], "description": "an offer, or a need (request)"}
KIND = {"enum": ["give", "lend", "rent", "sell", "swap", "service"]}
CATEGORY = text("letters, digits and underscores", pattern="^[A-Za-z0-9_]{1,64}$")
SHORT = text(maxLength=200)
ID = text("the listing's id", pattern="^[0-9]{1,18}$")
NEXT_OFFSET = nullable({"type": "integer", "minimum": 0, "description": "for the next page"})
_FIELDS: dict[str, Schema] = {
    "id": nullable(KEY),
    "title": text(minLength=1, maxLength=200),
    "description": nullable(text(maxLength=5000)),
    "category": nullable(CATEGORY),
    "kind": KIND,
    "purpose": PURPOSE,
    "price": nullable({**INPUT_AMOUNT, "description": "rent, sell and service only"}),
    "currency": nullable(CURRENCY_CODE),
    "quantity": nullable(text(maxLength=40)),
    "location": nullable(SHORT),
    "expires_at": nullable({**INSTANT, "description": "in the future"}),
}

COMPONENTS: dict[str, Schema] = {
    "ListingRequest": obj(_FIELDS, optional=tuple(n for n in _FIELDS if n != "title")),
    "ListingPatch": obj(_FIELDS, optional=ALL),
    "ListingPhoto": obj(
        {
            "url": text("served with the type it was checked as"),
            "media_type": nullable(text()),
            "width": nullable({"type": "integer"}),
            "height": nullable({"type": "integer"}),
            "description": nullable(text()),
        }
    ),
    "ListingDetail": obj(
        {
            "id": ID,
            "uri": text("its ActivityPub id: cite it as listing_uri to trade on it"),
            "author": text("acct:name@domain"),
            "local": {"type": "boolean", "description": "a listing of this community"},
            "community": nullable(text("the community Group's actor URI")),
            "purpose": PURPOSE,
            "kind": KIND,
            "title": text(),
            "description": text(),
            "category": text(),
            "price": nullable(
                obj({"amount": text("a decimal amount, as published"), "currency": text()})
            ),
            "quantity": text(),
            "unit": text(),
            "location": nullable(text()),
            "expires_at": nullable(INSTANT),
            "published_at": INSTANT,
            "updated_at": nullable(INSTANT),
            "state": {"enum": ["active", "withdrawn", "expired"]},
            "photos": {"type": "array", "items": ref("ListingPhoto")},
        }
    ),
    "ListingPage": obj(
        {"listings": {"type": "array", "items": ref("ListingDetail")}, "next_offset": NEXT_OFFSET}
    ),
    "ListingMatch": obj(
        {
            "id": text(),
            "score": {"type": "integer", "description": "higher is closer"},
            "created_at": INSTANT,
            "own_listing": ref("ListingDetail"),
            "listing": ref("ListingDetail"),
        }
    ),
    "MatchPage": obj(
        {"matches": {"type": "array", "items": ref("ListingMatch")}, "next_offset": NEXT_OFFSET}
    ),
    "PhotoUpload": obj(
        {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "a JPEG, PNG, WebP or GIF image",
            },
            "description": text("alt text", maxLength=1500),
        },
        optional=("description",),
    ),
    "RemoteTradeRequest": obj(
        {
            "id": nullable(KEY),
            "listing_uri": text(
                "the uri of another community's listing this server knows",
                minLength=1,
                maxLength=2048,
            ),
            "return_due_at": nullable({**INSTANT, "description": "loans and rentals only"}),
        },
        optional=("id", "return_due_at"),
    ),
    "TradeProposal": {
        "oneOf": [ref("TradeRequest"), ref("RemoteTradeRequest")],
        "description": "a trade with a member here, or on another community's listing",
    },
}
