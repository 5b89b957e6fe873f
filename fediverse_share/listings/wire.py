"""Listings on the wire: FEP-0837 ``Proposal`` objects that Mastodon renders as Notes.

We send ``type: ["Note", "Proposal"]``: Mastodon checks that ``type`` *includes*
``Note`` and shows ``content``, ignoring ``name``, so ``content`` starts with the
title; nothing goes in ``summary`` (Mastodon shows it as a content warning). We
accept a bare ``Proposal`` too, and Mitra's ``vf:hasUnit``/``vf:hasNumericalValue``.
The ``content`` HTML is written, and a received one's description read back, by
`fediverse_share.listings.content`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from activitypub.errors import OriginMismatch
from activitypub.html import html_to_text, sanitise_html
from activitypub.objects import host_of, id_of, types_of
from fediverse_share.listings.content import parse_description, render_content, tag_names
from fediverse_share.listings.errors import ListingInvalid
from fediverse_share.listings.model import (
    CATEGORY_RE,
    MAX_DESCRIPTION_CHARS,
    MAX_TITLE_CHARS,
    Draft,
    Kind,
    Purpose,
)

SERVICE_KINDS = frozenset({Kind.SERVICE})
_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")
OM2_IRI = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
#: OM-2 unit names we accept in ``hasUnit``: FEP-0837 recommends ``one`` for countable
#: things, Mitra uses ``second`` for subscriptions; time, mass, volume, length and area
#: cover what people share. A unit outside these is refused, not stored unreadable.
UNITS = frozenset(
    {
        *("one", "second", "second-Time", "minute", "minute-Time", "hour", "day", "week"),
        *("month", "year", "gram", "kilogram", "tonne", "litre", "millilitre", "cubicMetre"),
        *("metre", "kilometre", "squareMetre"),
    }
)


@dataclass(frozen=True, slots=True)
class Price:
    text: str  # the decimal string as published
    currency_code: str
    currency_uri: str


def _quantity(unit: str, value: str) -> dict[str, str]:
    return {"hasUnit": unit, "hasNumericalValue": value}


def render_proposal_fields(
    uri: str,
    draft: Draft,
    price: Price | None,
    tag_url: str,
    resource_uri: str,
    page_url: str | None = None,
) -> dict[str, Any]:
    """The FEP-0837 part of a listing's Note (merged into the Note document).

    ``content`` links ``page_url``, the listing's page (the Note's ``url``); without one
    it links ``uri``, which answers browsers with the same page."""
    price_text = None if price is None else f"{price.text} {price.currency_code}"
    fields: dict[str, Any] = {
        "type": ["Note", "Proposal"],
        "purpose": draft.purpose.value,
        "name": draft.title,
        "content": render_content(draft, price_text, tag_url, page_url or uri),
        "sharingKind": draft.kind.value,
        "category": draft.category,
        "publishes": {
            "id": f"{uri}#primary",
            "type": "Intent",
            "action": "deliverService" if draft.kind in SERVICE_KINDS else "transfer",
            "resourceConformsTo": resource_uri,
            "resourceQuantity": _quantity(draft.unit, draft.quantity),
        },
        "tag": [
            {"type": "Hashtag", "name": f"#{name}", "href": f"{tag_url}/{name}"}
            for name in tag_names(draft)
        ],
    }
    if price is not None:
        fields["reciprocal"] = {
            "id": f"{uri}#reciprocal",
            "type": "Intent",
            "action": "transfer",
            "resourceConformsTo": price.currency_uri,
            "resourceQuantity": _quantity("one", price.text),
        }
    if draft.location:
        fields["location"] = {"type": "Place", "name": draft.location}
    return fields


@dataclass(frozen=True, slots=True)
class RemoteListing:
    """A Proposal as another server published it."""

    uri: str
    author_uri: str
    community_uri: str | None
    draft: Draft
    price: Price | None


def _value(intent: Mapping[str, Any], name: str) -> Any:
    quantity = intent.get("resourceQuantity") or intent.get("vf:resourceQuantity") or {}
    if not isinstance(quantity, Mapping):
        return None
    return quantity.get(name, quantity.get(f"vf:{name}", quantity.get(f"om2:{name}")))


def _intent(obj: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    intent = obj.get(name, obj.get(f"vf:{name}"))
    return intent if isinstance(intent, Mapping) else None


def _decimal(value: Any, what: str) -> Decimal:
    """A ``hasNumericalValue`` as a `Decimal`; a plain decimal string (or number) only."""
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if isinstance(value, bool) or not _DECIMAL.fullmatch(text):
        raise ListingInvalid(f"{what} must be a decimal number, not {repr(value)[:40]}")
    return Decimal(text)


def _unit(value: Any) -> str:
    """An OM-2 unit name from ``hasUnit`` (``one`` when absent); unknown units are refused."""
    if value is None:
        return "one"
    unit = str(value).removeprefix(OM2_IRI).removeprefix("om2:")
    if unit not in UNITS:
        raise ListingInvalid(f"unknown unit {repr(value)[:40]}: use an OM-2 unit such as 'one'")
    return unit


def _price(obj: Mapping[str, Any]) -> Price | None:
    intent = _intent(obj, "reciprocal")
    if intent is None:
        return None
    amount = _value(intent, "hasNumericalValue")
    currency_uri = id_of(intent.get("resourceConformsTo"))
    if amount is None or currency_uri is None:
        raise ListingInvalid("a reciprocal intent needs a quantity and what it conforms to")
    _unit(_value(intent, "hasUnit"))
    if _decimal(amount, "a price") < 0:
        raise ListingInvalid(f"a price cannot be negative ({str(amount)[:40]})")
    text = str(amount).strip()
    return Price(text, currency_uri.rstrip("/").rsplit("/", 1)[-1].upper(), currency_uri)


def _primary_quantity(obj: Mapping[str, Any]) -> tuple[str, str]:
    """The primary intent's (quantity, unit); the quantity is above zero."""
    publishes = _intent(obj, "publishes")
    if publishes is None:
        raise ListingInvalid("a proposal publishes an intent")
    unit = _unit(_value(publishes, "hasUnit"))
    value = _value(publishes, "hasNumericalValue")
    if value is None:
        return "1", unit
    if _decimal(value, "a quantity") <= 0:
        raise ListingInvalid(f"a quantity must be above zero, not {str(value)[:40]}")
    return str(value).strip(), unit


def is_proposal(obj: Mapping[str, Any]) -> bool:
    return bool({"Proposal", "vf:Proposal"} & set(types_of(obj)))


def _author(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(id, attributedTo): both present, on the same host."""
    uri, author = id_of(obj.get("id")), id_of(obj.get("attributedTo"))
    if uri is None or author is None:
        raise ListingInvalid("a proposal needs an id and attributedTo")
    if host_of(uri) is None or host_of(uri) != host_of(author):
        raise OriginMismatch(uri, author)
    return uri, author


def _purpose_and_kind(obj: Mapping[str, Any]) -> tuple[Purpose, Kind]:
    purpose_text = obj.get("purpose", obj.get("vf:purpose"))
    default_kind = "give" if _intent(obj, "reciprocal") is None else "sell"
    try:
        return Purpose(purpose_text), Kind(obj.get("sharingKind", default_kind))
    except ValueError:
        raise ListingInvalid(f"unknown purpose or kind: {repr(purpose_text)[:40]}") from None


def parse_proposal(obj: Mapping[str, Any]) -> RemoteListing:
    """A remote Proposal, typed; raises `ListingInvalid` for anything we cannot use, and
    `OriginMismatch` when its id is on another host than its author.

    Its HTML is sanitised before it becomes text, so a script never reaches a listing;
    the description is only the description (`content.parse_description`)."""
    uri, author = _author(obj)
    purpose, kind = _purpose_and_kind(obj)
    quantity, unit = _primary_quantity(obj)
    price = _price(obj)
    name = _string(obj.get("name"))  # plain text in ActivityStreams: kept, escaped on output
    content = sanitise_html(_string(obj.get("content")))
    first_line = html_to_text(content).partition("\n")[0]
    title = (name.strip() or first_line[:80])[:MAX_TITLE_CHARS] or "(untitled)"
    draft = Draft(
        purpose=purpose,
        kind=kind,
        title=title,
        description=parse_description(content, title, purpose, kind)[:MAX_DESCRIPTION_CHARS],
        category=_category(obj.get("category")),
        price_minor=None,
        quantity=quantity,
        unit=unit,
        location=_location(obj.get("location")),
        expires_at_us=_instant_us(obj.get("endTime")),
    )
    return RemoteListing(uri, author, id_of(obj.get("audience")), draft, price)


def _instant_us(value: Any) -> int | None:
    """``endTime`` (when the listing expires) in microseconds; None if absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1e6) if moment.tzinfo is not None else None


def _category(value: Any) -> str:
    category = value.strip().lower() if isinstance(value, str) else ""
    return category if CATEGORY_RE.fullmatch(category) else "general"


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _location(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return str(value["name"])[:200]
    return None
