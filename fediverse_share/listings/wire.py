"""Listings on the wire: FEP-0837 ``Proposal`` objects that Mastodon renders as Notes.

We send ``type: ["Note", "Proposal"]``: Mastodon checks that ``type`` *includes*
``Note`` and shows ``content``, ignoring ``name``, so ``content`` starts with the
title; nothing goes in ``summary`` (Mastodon shows it as a content warning). We
accept a bare ``Proposal`` too, and Mitra's ``vf:hasUnit``/``vf:hasNumericalValue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from activitypub.errors import DocumentInvalid
from activitypub.html import html_to_text, sanitise_html
from activitypub.objects import id_of, types_of
from fediverse_share.listings.model import Draft, Kind, Purpose

SERVICE_KINDS = frozenset({Kind.SERVICE})
_LABEL = {Purpose.OFFER: "Offer", Purpose.REQUEST: "Need"}
_HASHTAG = {Purpose.OFFER: "offer", Purpose.REQUEST: "need"}


@dataclass(frozen=True, slots=True)
class Price:
    text: str  # the decimal string as published
    currency_code: str
    currency_uri: str


def render_content(draft: Draft, price: Price | None, tag_url: str) -> str:
    """The HTML a Mastodon user reads: title, description, price, hashtags."""
    lines = [f"<p><strong>{_LABEL[draft.purpose]}: {escape(draft.title)}</strong></p>"]
    if draft.description:
        lines.extend(f"<p>{escape(p)}</p>" for p in draft.description.split("\n\n") if p)
    terms = [draft.kind.value]
    if price is not None:
        terms.insert(0, f"{price.text} {price.currency_code}")
    if draft.location:
        terms.append(escape(draft.location))
    lines.append(f"<p>{' · '.join(terms)}</p>")
    tags = " ".join(_hashtag_link(name, tag_url) for name in _tag_names(draft))
    lines.append(f"<p>{tags}</p>")
    return "".join(lines)


def _tag_names(draft: Draft) -> list[str]:
    return list(dict.fromkeys([_HASHTAG[draft.purpose], draft.category]))


def _hashtag_link(name: str, tag_url: str) -> str:
    return f'<a href="{tag_url}/{name}" class="mention hashtag" rel="tag">#<span>{name}</span></a>'


def _quantity(unit: str, value: str) -> dict[str, str]:
    return {"hasUnit": unit, "hasNumericalValue": value}


def render_proposal_fields(
    uri: str, draft: Draft, price: Price | None, tag_url: str, resource_uri: str
) -> dict[str, Any]:
    """The FEP-0837 part of a listing's Note (merged into the Note document)."""
    fields: dict[str, Any] = {
        "type": ["Note", "Proposal"],
        "purpose": draft.purpose.value,
        "name": draft.title,
        "content": render_content(draft, price, tag_url),
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
            for name in _tag_names(draft)
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


def _price(obj: Mapping[str, Any]) -> Price | None:
    intent = _intent(obj, "reciprocal")
    if intent is None:
        return None
    amount = _value(intent, "hasNumericalValue")
    currency_uri = id_of(intent.get("resourceConformsTo"))
    if not isinstance(amount, str | int | float) or currency_uri is None:
        raise DocumentInvalid("a reciprocal intent needs a quantity and what it conforms to")
    return Price(str(amount), currency_uri.rstrip("/").rsplit("/", 1)[-1].upper(), currency_uri)


def is_proposal(obj: Mapping[str, Any]) -> bool:
    return bool({"Proposal", "vf:Proposal"} & set(types_of(obj)))


def parse_proposal(obj: Mapping[str, Any]) -> RemoteListing:
    """A remote Proposal, typed; raises `DocumentInvalid` for anything we cannot use."""
    uri, author = id_of(obj.get("id")), id_of(obj.get("attributedTo"))
    if uri is None or author is None:
        raise DocumentInvalid("a proposal needs an id and attributedTo")
    purpose_text = obj.get("purpose", obj.get("vf:purpose"))
    try:
        purpose = Purpose(purpose_text)
        kind = Kind(
            obj.get("sharingKind", "give" if _intent(obj, "reciprocal") is None else "sell")
        )
    except ValueError:
        raise DocumentInvalid(f"unknown purpose or kind: {purpose_text!r}") from None
    publishes = _intent(obj, "publishes")
    if publishes is None:
        raise DocumentInvalid("a proposal publishes an intent")
    quantity = _value(publishes, "hasNumericalValue")
    unit = _value(publishes, "hasUnit")
    name = _string(obj.get("name"))
    content = _string(obj.get("content"))
    category = obj.get("category")
    draft = Draft(
        purpose=purpose,
        kind=kind,
        title=(name or html_to_text(content)[:80]).strip()[:200] or "(untitled)",
        description=html_to_text(sanitise_html(content))[:5000],
        category=category if isinstance(category, str) and category else "general",
        price_minor=None,
        quantity=str(quantity) if quantity is not None else "1",
        unit=str(unit) if unit is not None else "one",
        location=_location(obj.get("location")),
    )
    return RemoteListing(uri, author, id_of(obj.get("audience")), draft, _price(obj))


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _location(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return str(value["name"])[:200]
    return None
