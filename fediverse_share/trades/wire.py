"""Cross-community trades on the wire (FEP-0837): Agreements, Offers, answers, events,
receipts and reviews. ``render_*`` builds documents, ``parse_*`` reads them (raising
`OfferInvalid` or `ReviewUnverifiable`).

An Agreement's terms (`AgreementTerms`) come from the listing both servers know (ours,
or the stored copy of a remote one), so each side renders the same Agreement and
compares what it receives with its own rendering: both servers end with one agreement.
A price paid through clearing between the communities says so on the reciprocal
commitment (``settledThrough: "clearing"``; absent, the price is paid outside the
ledger), and the ``pay`` event of such a trade names its ``clearingTransfer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from activitypub.objects import id_of, types_of
from exchange.trade_terms import PaymentOption
from fediverse_share.clock import render_iso
from fediverse_share.federation.render import AS_CONTEXT
from fediverse_share.trades.errors import OfferInvalid, ReviewUnverifiable

#: The trade steps that federate as ``Create(EconomicEvent)`` (``sharingStep``).
EVENT_STEPS = frozenset({"deliver", "confirm", "pay", "return", "cancel"})
#: ``settledThrough`` of a reciprocal commitment paid through clearing.
CLEARING = "clearing"


@dataclass(frozen=True, slots=True)
class Price:
    currency_uri: str
    text: str  # the decimal string, as the listing published it


@dataclass(frozen=True, slots=True)
class AgreementTerms:
    """What an Agreement stipulates, derived from the listing and the trade."""

    id: str
    listing_uri: str
    option: PaymentOption
    unit: str
    quantity: str
    price: Price | None
    return_due_at_us: int | None
    cleared: bool = False  # the price is paid through clearing


def _quantity(unit: str, value: str) -> dict[str, str]:
    return {"hasUnit": unit, "hasNumericalValue": value}


def render_agreement(terms: AgreementTerms, attributed_to: str | None = None) -> dict[str, Any]:
    """The Agreement object (in an Offer, or as the ``result`` of an Accept)."""
    doc: dict[str, Any] = {
        "id": terms.id,
        "type": "Agreement",
        "sharingOption": terms.option.value,
        "stipulates": {
            "id": f"{terms.id}#primary",
            "type": "Commitment",
            "satisfies": f"{terms.listing_uri}#primary",
            "resourceQuantity": _quantity(terms.unit, terms.quantity),
        },
    }
    if attributed_to is not None:
        doc["attributedTo"] = attributed_to
    if terms.price is not None:
        doc["stipulatesReciprocal"] = {
            "id": f"{terms.id}#reciprocal",
            "type": "Commitment",
            "satisfies": f"{terms.listing_uri}#reciprocal",
            "resourceConformsTo": terms.price.currency_uri,
            "resourceQuantity": _quantity("one", terms.price.text),
        }
        if terms.cleared:
            doc["stipulatesReciprocal"]["settledThrough"] = CLEARING
    if terms.return_due_at_us is not None:
        doc["endTime"] = render_iso(terms.return_due_at_us)
    return doc


def _activity(kind: str, uri: str, actor: str, to: str, obj: object) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": uri, "type": kind, "actor": actor, "to": [to],
            "object": obj}  # fmt: skip


def render_offer(terms: AgreementTerms, actor: str, to: str) -> dict[str, Any]:
    return _activity("Offer", f"{terms.id}/offer", actor, to, render_agreement(terms))


def render_accept(
    uri: str, terms: AgreementTerms, offer_uri: str, actor: str, to: str
) -> dict[str, Any]:
    accept = _activity("Accept", uri, actor, to, offer_uri)
    accept["result"] = render_agreement(terms, attributed_to=actor)
    return accept


def render_reject(
    uri: str, offer_uri: str, actor: str, to: str, reason: str | None
) -> dict[str, Any]:
    reject = _activity("Reject", uri, actor, to, offer_uri)
    if reason:
        reject["content"] = reason
    return reject


def render_event(
    uri: str,
    agreement_uri: str,
    step: str,
    actor: str,
    to: str,
    reason: str | None,
    at_us: int,
    clearing_transfer: str | None = None,
) -> dict[str, Any]:
    """A trade step as FEP-3264's ``EconomicEvent``, tied to the Agreement by ``context``;
    a payment through clearing names its transfer."""
    event: dict[str, Any] = {"id": uri, "type": "EconomicEvent", "attributedTo": actor,
                             "context": agreement_uri, "sharingStep": step,
                             "published": render_iso(at_us), "to": [to]}  # fmt: skip
    if reason:
        event["content"] = reason
    if clearing_transfer:
        event["clearingTransfer"] = clearing_transfer
    return _activity("Create", f"{uri}/create", actor, to, event)


def render_receipt(uri: str, agreement_uri: str, actor: str, to: str, at_us: int) -> dict[str, Any]:
    """FEP-0837's confirmation that the trade settled, published by the listing's author."""
    receipt = {"id": uri, "type": "Document", "name": "Receipt", "attributedTo": actor,
               "context": agreement_uri, "published": render_iso(at_us), "to": [to]}  # fmt: skip
    return _activity("Create", f"{uri}/create", actor, to, receipt)


def render_review(
    uri: str, agreement_uri: str, actor: str, to: str, rating: int, text: str, at_us: int
) -> dict[str, Any]:
    review = {"id": uri, "type": "Review", "attributedTo": actor, "context": agreement_uri,
              "rating": rating, "content": text, "published": render_iso(at_us),
              "to": [to]}  # fmt: skip
    return _activity("Create", f"{uri}/create", actor, to, review)


def parse_terms(agreement: object, expected: AgreementTerms) -> None:
    """Check that a received Agreement stipulates exactly ``expected``; raises
    `OfferInvalid` naming the first difference (FEP-0837: units must match the listing's,
    and, the listing not being unit-based, quantities must equal its own)."""
    if not isinstance(agreement, Mapping) or "Agreement" not in types_of(agreement):
        raise OfferInvalid("the object is not an Agreement")
    mine = render_agreement(expected)
    if id_of(agreement) != expected.id:
        raise OfferInvalid("the Agreement's id is not the one offered")
    for field in ("sharingOption", "endTime"):
        if agreement.get(field) != mine.get(field):
            raise OfferInvalid(f"the Agreement's {field} does not match the listing")
    for field in ("stipulates", "stipulatesReciprocal"):
        _check_commitment(agreement.get(field), mine.get(field), field)


def _check_commitment(got: object, want: Mapping[str, Any] | None, field: str) -> None:
    if want is None:
        if got is not None:
            raise OfferInvalid(f"the listing has no reciprocal intent: no {field}")
        return
    if not isinstance(got, Mapping):
        raise OfferInvalid(f"{field} is required by this listing")
    if id_of(got.get("satisfies")) != want["satisfies"]:
        raise OfferInvalid(f"{field} does not satisfy {want['satisfies']}")
    quantity = got.get("resourceQuantity")
    if not isinstance(quantity, Mapping):
        raise OfferInvalid(f"{field} needs a resourceQuantity")
    if quantity.get("hasUnit") != want["resourceQuantity"]["hasUnit"]:
        raise OfferInvalid(f"{field}: the unit is not the listing's")
    if str(quantity.get("hasNumericalValue")) != want["resourceQuantity"]["hasNumericalValue"]:
        raise OfferInvalid(f"{field}: the quantity is not the listing's")
    if got.get("settledThrough") != want.get("settledThrough"):
        raise OfferInvalid(f"{field}: the price is not paid the way it was offered")


def parse_cleared(agreement: Mapping[str, Any]) -> bool:
    """Whether an offered Agreement's price is paid through clearing."""
    reciprocal = agreement.get("stipulatesReciprocal")
    if not isinstance(reciprocal, Mapping) or reciprocal.get("settledThrough") is None:
        return False
    if reciprocal.get("settledThrough") != CLEARING:
        raise OfferInvalid(f"settledThrough is {CLEARING!r} or absent")
    return True


def parse_clearing_transfer(event: Mapping[str, Any]) -> str | None:
    """The clearing transfer an ``EconomicEvent`` names, if any."""
    value = event.get("clearingTransfer")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 2048:
        raise OfferInvalid("clearingTransfer is a transfer id")
    return value


def parse_listing_uri(agreement: object) -> str:
    """The listing an offered Agreement is about (its ``stipulates.satisfies``)."""
    stipulates = agreement.get("stipulates") if isinstance(agreement, Mapping) else None
    satisfies = id_of(stipulates.get("satisfies")) if isinstance(stipulates, Mapping) else None
    if satisfies is None or not satisfies.endswith("#primary"):
        raise OfferInvalid("an Agreement stipulates a Commitment satisfying <listing>#primary")
    return satisfies.removesuffix("#primary")


def parse_option(agreement: Mapping[str, Any]) -> PaymentOption:
    try:
        return PaymentOption(agreement.get("sharingOption", "gift"))
    except ValueError:
        raise OfferInvalid("unknown sharingOption") from None


def parse_end_time_us(agreement: Mapping[str, Any]) -> int | None:
    value = agreement.get("endTime")
    return None if value is None else parse_instant_us(value, OfferInvalid)


def parse_instant_us(value: object, error: type[Exception]) -> int:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise error("not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise error("an instant needs a time zone")
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


@dataclass(frozen=True, slots=True)
class ReceivedReview:
    uri: str
    agreement_uri: str
    rating: int
    text: str
    written_at_us: int


def parse_review(obj: Mapping[str, Any], actor: str) -> ReceivedReview:
    """A Review object sent by ``actor``; raises `ReviewUnverifiable`."""
    uri, context = id_of(obj.get("id")), id_of(obj.get("context"))
    if id_of(obj.get("attributedTo")) != actor:
        raise ReviewUnverifiable("a review's author must be the actor that sends it")
    rating, text = obj.get("rating"), obj.get("content", "")
    if uri is None or context is None or type(rating) is not int or not isinstance(text, str):
        raise ReviewUnverifiable("a review has an id, a context, a whole rating and content")
    written = parse_instant_us(obj.get("published"), ReviewUnverifiable)
    return ReceivedReview(uri, context, rating, text, written)
