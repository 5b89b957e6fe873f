"""Offers and needs through the client API, on one instance: a listing is a status with
a link card, a status tagged #offer or #need becomes a listing, and matches and trade
steps reach members as notifications of Mastodon's own types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import TEST_DATABASE_URL
from tests.support.images import png
from tests.support.instances import running_instance
from tests.support.mastodon_client import Member, Site
from tests.support.mastodon_entities import check_account, check_card, check_status

pytestmark = pytest.mark.asyncio(loop_scope="module")
LISTINGS = "/api/exchange/v1/listings"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    tmp = tmp_path_factory.mktemp("listings")
    async with (
        running_instance("listings", tmp, TEST_DATABASE_URL) as instance,
        httpx.AsyncClient(base_url=instance.base_url) as http,
    ):
        yield Site(instance, http)


async def _community(site: Site) -> dict[str, Any]:
    name = site.instance.runtime.instance.community_username
    found: dict[str, Any] = (
        await site.http.get("/api/v1/accounts/lookup", params={"acct": name})
    ).json()
    check_account(found)
    return found


async def _listing(member: Member, **fields: Any) -> dict[str, Any]:
    body = {"title": "Cargo bike", "description": "Weekends only.\n\nBring a helmet.",
            "category": "bikes", "kind": "rent", "purpose": "offer", "price": "2.50",
            "location": "Kreuzberg", **fields}  # fmt: skip
    response = await member.call("POST", LISTINGS, json=body)
    assert response.status_code == 201, response.text
    listing: dict[str, Any] = response.json()
    return listing


async def test_a_listing_status_has_a_link_card_from_the_listing(site: Site) -> None:
    """A listing's status carries a link card built from it; other statuses have none."""
    ola = await site.member("ola")
    pia = await site.member("pia")
    community = await _community(site)
    await pia.post(f"/api/v1/accounts/{community['id']}/follow")
    listing = await _listing(ola)
    status = await pia.get(f"/api/v1/statuses/{listing['id']}")
    check_status(status)
    currency = (await ola.get("/api/exchange/v1/currency"))["code"]
    assert status["card"] == {
        "url": status["url"],
        "title": "Offer: Cargo bike",
        "description": f"rent · 2.50 {currency} · Kreuzberg · Weekends only. Bring a helmet.",
        "type": "link",
        "author_name": status["account"]["display_name"] or "ola",
        "author_url": status["account"]["url"],
        "provider_name": community["display_name"],
        "provider_url": community["url"],
        "html": "",
        "width": 0,
        "height": 0,
        "image": None,
        "image_description": "",
        "embed_url": "",
        "blurhash": None,
        "authors": [],
    }
    plain = await ola.post("/api/v1/statuses", data={"status": "Just saying hello"})
    check_status(plain)
    assert plain["card"] is None

    # Pia follows the community: its reblog is a wrapper, the original has the card.
    home = await pia.get("/api/v1/timelines/home")
    boost = next(s for s in home if s["reblog"] and s["reblog"]["id"] == listing["id"])
    check_status(boost)
    assert boost["card"] is None and boost["reblog"]["card"] == status["card"]


async def test_a_listing_card_shows_its_first_photo(site: Site) -> None:
    """The card's image is the listing's first photo, with its size."""
    rae = await site.member("rae")
    listing = await _listing(rae, title="Garden shears", kind="give", price=None)
    files = {"file": ("shears.png", png(6, 4), "image/png")}
    added = await rae.call("POST", f"{LISTINGS}/{listing['id']}/photos", files=files)
    assert added.status_code == 201, added.text
    [photo] = added.json()["photos"]
    card = (await rae.get(f"/api/v1/statuses/{listing['id']}"))["card"]
    check_card(card)
    assert (card["image"], card["width"], card["height"]) == (photo["url"], 6, 4)
    assert card["description"] == "give · Kreuzberg · Weekends only. Bring a helmet."
