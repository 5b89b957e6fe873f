"""Listings on the wire: what we send, and the FEP-0837 shapes we accept."""

from __future__ import annotations

import pytest

from activitypub.errors import DocumentInvalid
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.listings.wire import Price, is_proposal, parse_proposal, render_proposal_fields

URI = "https://a.example/users/alice/statuses/1"


def _draft(**changes: object) -> Draft:
    values: dict[str, object] = {
        "purpose": Purpose.OFFER,
        "kind": Kind.SELL,
        "title": "Bike <repair>",
        "description": "I fix bikes.\n\nBring it by.",
        "category": "bikes",
        "price_minor": 1250,
    }
    values.update(changes)
    return Draft(**values)  # type: ignore[arg-type]


def test_rendered_listing_reads_well_in_mastodon() -> None:
    """Type includes Note, content starts with the escaped title, no summary, hashtags."""
    price = Price("12.50", "KRZ", "https://a.example/currencies/KRZ")
    doc = render_proposal_fields(URI, _draft(), price, "https://a.example/tags", "urn:x")
    assert doc["type"] == ["Note", "Proposal"]
    assert doc["content"].startswith("<p><strong>Offer: Bike &lt;repair&gt;</strong></p>")
    assert "12.50 KRZ" in doc["content"] and "summary" not in doc
    assert {t["name"] for t in doc["tag"]} == {"#offer", "#bikes"}
    assert doc["reciprocal"]["resourceQuantity"] == {"hasUnit": "one", "hasNumericalValue": "12.50"}
    assert doc["publishes"]["id"] == f"{URI}#primary"


def test_round_trip_of_our_own_format() -> None:
    """What we render parses back into the same listing."""
    price = Price("12.50", "KRZ", "https://a.example/currencies/KRZ")
    doc = render_proposal_fields(URI, _draft(), price, "https://a.example/tags", "urn:x")
    doc |= {"id": URI, "attributedTo": "https://a.example/users/alice"}
    remote = parse_proposal(doc)
    assert (remote.draft.purpose, remote.draft.kind, remote.draft.title) == (
        Purpose.OFFER,
        Kind.SELL,
        "Bike <repair>",
    )
    assert remote.price == price and remote.draft.category == "bikes"


def test_mitra_shape_with_vf_terms_and_a_bare_proposal() -> None:
    """Mitra's vf:hasUnit/vf:hasNumericalValue and a plain Proposal type are accepted."""
    mitra = {
        "id": "https://mitra.example/objects/1",
        "type": "Proposal",
        "attributedTo": "https://mitra.example/users/silverpill",
        "name": "Subscription",
        "content": "<p>Pay to subscribe</p>",
        "purpose": "offer",
        "publishes": {
            "type": "Intent",
            "action": "deliverService",
            "resourceConformsTo": "https://www.wikidata.org/wiki/Q1371849",
            "resourceQuantity": {"vf:hasUnit": "second", "vf:hasNumericalValue": "2592000"},
        },
        "reciprocal": {
            "type": "Intent",
            "action": "transfer",
            "resourceConformsTo": "https://www.wikidata.org/wiki/Q27133",
            "resourceQuantity": {"vf:hasUnit": "one", "vf:hasNumericalValue": "0.0001"},
        },
    }
    assert is_proposal(mitra)
    remote = parse_proposal(mitra)
    assert remote.draft.unit == "second" and remote.draft.quantity == "2592000"
    assert remote.price is not None and remote.price.text == "0.0001"
    assert remote.draft.kind is Kind.SELL


def test_unusable_proposals_are_refused() -> None:
    """No purpose, no publishes intent or no author: a clear DocumentInvalid."""
    base = {
        "id": URI,
        "type": "Proposal",
        "attributedTo": "https://a.example/users/a",
        "purpose": "offer",
        "publishes": {"type": "Intent", "action": "transfer"},
    }
    for broken in (
        {**base, "purpose": "barter"},
        {k: v for k, v in base.items() if k != "publishes"},
        {k: v for k, v in base.items() if k != "attributedTo"},
    ):
        with pytest.raises(DocumentInvalid):
            parse_proposal(broken)
