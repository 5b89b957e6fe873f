"""Listings on the wire: what we send, and the FEP-0837 shapes we accept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from activitypub.errors import DocumentInvalid, OriginMismatch
from fediverse_share.listings.errors import ListingInvalid
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.listings.wire import Price, is_proposal, parse_proposal, render_proposal_fields
from tests.support.serve import fixture_path

URI = "https://a.example/users/alice/statuses/1"
MITRA_PROPOSAL = (
    "https://mitra.social/users/silverpill/proposals/monero:418015bb9ae982a1975da7d79277c270"
)
FEP_PROPOSAL = "https://market.example/proposals/ddde9d6f-6f3b-4770-a966-3a18ef006930"


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
    """Type includes Note; content: escaped title, description, price, page link, hashtags."""
    price = Price("12.50", "KRZ", "https://a.example/currencies/KRZ")
    page = "https://a.example/@alice/1"
    doc = render_proposal_fields(URI, _draft(), price, "https://a.example/tags", "urn:x", page)
    assert doc["type"] == ["Note", "Proposal"]
    assert doc["content"] == (
        "<p><strong>Offer: Bike &lt;repair&gt;</strong></p>"
        "<p>I fix bikes.</p><p>Bring it by.</p><p>12.50 KRZ · sell</p>"
        '<p><a href="https://a.example/@alice/1" rel="nofollow noopener noreferrer"'
        ' target="_blank"><span class="invisible">https://</span>'
        "<span>a.example/@alice/1</span></a></p>"
        '<p><a href="https://a.example/tags/offer" class="mention hashtag" rel="tag">'
        '#<span>offer</span></a> <a href="https://a.example/tags/bikes" class="mention hashtag"'
        ' rel="tag">#<span>bikes</span></a></p>'
    )
    assert "summary" not in doc
    without_page = render_proposal_fields(URI, _draft(), price, "https://a.example/tags", "x")
    assert f'<a href="{URI}"' in without_page["content"]
    assert {t["name"] for t in doc["tag"]} == {"#offer", "#bikes"}
    assert doc["reciprocal"]["resourceQuantity"] == {"hasUnit": "one", "hasNumericalValue": "12.50"}
    assert doc["publishes"]["id"] == f"{URI}#primary"


def test_content_title_is_labelled_as_the_card_labels_it() -> None:
    """An offer's content starts "Offer: …", a need's "Need: …", as Purpose.label reads."""
    for purpose, label in ((Purpose.OFFER, "Offer"), (Purpose.REQUEST, "Need")):
        doc = render_proposal_fields(
            URI, _draft(purpose=purpose), None, "https://a.example/tags", "x"
        )
        assert purpose.label == label
        assert doc["content"].startswith(f"<p><strong>{label}: Bike &lt;repair&gt;</strong></p>")


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


def _recorded(url: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(fixture_path(url).read_bytes())
    return document


def test_recorded_mitra_and_bare_fep_proposals() -> None:
    """Mitra's Proposal and the FEP's bare example (tests/fixtures) parse into listings."""
    mitra = _recorded(MITRA_PROPOSAL)
    assert is_proposal(mitra)
    remote = parse_proposal(mitra)
    assert (remote.draft.unit, remote.draft.quantity) == ("second", "1")
    assert remote.price is not None and remote.price.text == "20000"
    assert (remote.draft.kind, remote.draft.title) == (Kind.SELL, "Pay for subscription")

    bare = parse_proposal(_recorded(FEP_PROPOSAL))
    assert (bare.draft.title, bare.draft.location) == ("Offering used bike", None)
    assert bare.draft.description == "Blue one-speed bike, 15 years old, some rust"
    assert bare.price is not None and bare.price.text == "30"


def test_vf_prefixed_terms_are_read_like_mitra_context_terms() -> None:
    """The compacted form without Mitra's context terms (vf:hasUnit, vf:…) reads the same."""
    mitra = _recorded(MITRA_PROPOSAL)
    for intent in ("publishes", "reciprocal"):
        quantity = mitra[intent].pop("resourceQuantity")
        mitra[intent]["vf:resourceQuantity"] = {f"vf:{k}": v for k, v in quantity.items()}
    mitra["type"] = "vf:Proposal"
    assert is_proposal(mitra)
    assert parse_proposal(mitra) == parse_proposal(_recorded(MITRA_PROPOSAL))


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


def _proposal(**changes: object) -> dict[str, object]:
    """A valid remote Proposal (a bike for 30 in a currency), with ``changes`` applied."""
    doc: dict[str, object] = {
        "id": URI,
        "type": "Proposal",
        "attributedTo": "https://a.example/users/alice",
        "name": "Used bike",
        "purpose": "offer",
        "publishes": _intent("transfer", "one", "1"),
        "reciprocal": _intent("transfer", "one", "30"),
    }
    doc.update(changes)
    return doc


def _intent(action: str, unit: object, value: object) -> dict[str, object]:
    return {
        "type": "Intent",
        "action": action,
        "resourceConformsTo": "https://a.example/currencies/KRZ",
        "resourceQuantity": {"hasUnit": unit, "hasNumericalValue": value},
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reciprocal": _intent("transfer", "one", "-5")}, "a price cannot be negative"),
        ({"reciprocal": _intent("transfer", "one", -5)}, "a price cannot be negative"),
        ({"reciprocal": _intent("transfer", "one", "five")}, "a price must be a decimal"),
        ({"reciprocal": _intent("transfer", "one", "1e9")}, "a price must be a decimal"),
        ({"reciprocal": _intent("transfer", "euro", "5")}, "unknown unit 'euro'"),
        ({"publishes": _intent("transfer", "one", "0")}, "a quantity must be above zero"),
        ({"publishes": _intent("transfer", "one", "-2")}, "a quantity must be above zero"),
        ({"publishes": _intent("transfer", "one", True)}, "a quantity must be a decimal"),
        ({"publishes": _intent("transfer", "furlong", "1")}, "unknown unit 'furlong'"),
    ],
)
def test_bad_prices_quantities_and_units_are_refused(changes, message) -> None:
    """A negative price, a quantity not above zero or an unknown unit: ListingInvalid."""
    with pytest.raises(ListingInvalid, match=message) as refused:
        parse_proposal(_proposal(**changes))
    assert refused.value.code == "listing_invalid"


def test_good_prices_quantities_and_units_are_kept() -> None:
    """A zero price, a fractional quantity and an OM-2 unit by IRI or prefix parse."""
    om2 = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
    remote = parse_proposal(
        _proposal(
            publishes=_intent("transfer", f"{om2}kilogram", "2.5"),
            reciprocal=_intent("transfer", "om2:one", "0"),
        )
    )
    assert (remote.draft.quantity, remote.draft.unit) == ("2.5", "kilogram")
    assert remote.price is not None and remote.price.text == "0"


def test_an_id_on_another_host_than_its_author_is_refused() -> None:
    """A Proposal whose id is not on its attributedTo actor's host: OriginMismatch."""
    foreign = _proposal(id="https://elsewhere.example/listings/1")
    with pytest.raises(OriginMismatch) as refused:
        parse_proposal(foreign)
    assert refused.value.code == "origin_mismatch"
    with pytest.raises(OriginMismatch):
        parse_proposal(_proposal(id="urn:uuid:1"))


def test_html_with_scripts_is_sanitised() -> None:
    """Scripts and their text never reach a listing's title or description."""
    content = (
        '<p>Blue bike<script>alert("x")</script></p><img src=x onerror="alert(1)">'
        '<style>p{}</style><p onclick="steal()">Some rust</p>'
    )
    remote = parse_proposal(_proposal(name=None, content=content, category="<b>Bikes</b>"))
    assert remote.draft.title == "Blue bike"
    assert remote.draft.description == "Some rust"
    assert remote.draft.category == "general"


def _ours(draft: Draft, price: Price | None = None) -> dict[str, Any]:
    """What one of our servers sends for ``draft``, as another of them receives it."""
    doc = render_proposal_fields(URI, draft, price, "https://a.example/tags", "urn:x")
    return doc | {"id": URI, "attributedTo": "https://a.example/users/alice"}


def test_our_content_gives_back_only_the_description() -> None:
    """From our own content's shape only the description paragraphs are kept, as written."""
    price = Price("12.50", "KRZ", "https://a.example/currencies/KRZ")
    assert parse_proposal(_ours(_draft(), price)).draft.description == (
        "I fix bikes.\n\nBring it by."
    )
    need = _draft(
        purpose=Purpose.REQUEST,
        kind=Kind.LEND,
        title="Drill · for <two> days",
        description="Any #drill will do,\nwith bits.\n\nhttps://x.example/a · lend",
        category="tools",
        price_minor=None,
        location="Kreuzberg",
    )
    remote = parse_proposal(_ours(need))
    assert remote.draft.title == "Drill · for <two> days"
    assert remote.draft.description == need.description
    assert parse_proposal(_ours(_draft(description=""), price)).draft.description == ""


_MASTODON_TAG = (
    '<a href="https://m.example/tags/{0}" class="mention hashtag" rel="tag">#<span>{0}</span></a>'
)


def test_another_servers_content_loses_its_title_and_hashtags() -> None:
    """Other servers' text is kept without a line repeating the title and without hashtags."""
    bikes, offer, commuting = (_MASTODON_TAG.format(t) for t in ("bikes", "offer", "commuting"))
    content = (
        f"<p>Offering: Used bike</p><p>Blue, one speed. Great for {commuting} in town.</p>"
        f"<p>{offer} Room #1 in the shed {bikes}</p>"
        '<p><a href="https://m.example/@ann/1">m.example/@ann/1</a></p>'
        f"<p>{bikes} {offer}</p>"
    )
    remote = parse_proposal(_proposal(content=content))
    assert remote.draft.title == "Used bike"
    assert remote.draft.description == (
        "Blue, one speed. Great for commuting in town.\nRoom #1 in the shed\nm.example/@ann/1"
    )
    untitled = parse_proposal(_proposal(name=None, content=f"<p>Used bike</p><p>Blue {bikes}</p>"))
    assert (untitled.draft.title, untitled.draft.description) == ("Used bike", "Blue")
    kept = parse_proposal(_proposal(content="<p>My old used bike</p><p>Blue</p>"))
    assert kept.draft.description == "My old used bike\nBlue"


def test_content_only_like_ours_is_read_as_another_servers() -> None:
    """A title line like ours without the terms, link and hashtags after it keeps the rest."""
    content = "<p><strong>Offer: Used bike</strong></p><p>Blue</p><p>Red</p><p>Green</p>"
    assert parse_proposal(_proposal(content=content)).draft.description == "Blue\nRed\nGreen"


def test_end_time_is_the_expiry_of_a_remote_listing() -> None:
    """endTime with a zone becomes the listing's expiry; without one, or unreadable, none."""
    remote = parse_proposal(_proposal(endTime="2030-01-02T03:04:05Z"))
    assert remote.draft.expires_at_us == 1_893_553_445_000_000
    for unreadable in ("2030-01-02T03:04:05", "next week", 7):
        assert parse_proposal(_proposal(endTime=unreadable)).draft.expires_at_us is None
