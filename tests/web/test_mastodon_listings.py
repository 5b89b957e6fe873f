"""Offers and needs through the client API, on one instance: a listing is a status with
a link card, a status tagged #offer or #need becomes a listing, and matches and trade
steps reach members as notifications of Mastodon's own types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from fediverse_share.listings.model import Kind, Purpose
from fediverse_share.mastodon import listing_text
from fediverse_share.mastodon.errors import ValidationFailed
from tests.conftest import TEST_DATABASE_URL
from tests.support.images import png
from tests.support.instances import running_instance
from tests.support.mastodon_client import Member, Site
from tests.support.mastodon_entities import (
    check_account,
    check_card,
    check_json_error,
    check_notification,
    check_status,
)

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


async def test_status_text_reads_as_a_listing() -> None:
    """#offer/#need make a listing; kind and category come from tags, markers drop out."""
    text = "@listings_community #offer Cargo bike, #lend\nA #bikes trailer too.\n\nAsk me"
    draft = listing_text.parse_listing(text, "listings_community", "x.example")
    assert draft is not None
    assert (draft.purpose, draft.kind, draft.category) == (Purpose.OFFER, Kind.LEND, "bikes")
    assert (draft.title, draft.description) == ("Cargo bike", "A bikes trailer too.\n\nAsk me")
    need = listing_text.parse_listing("I #need a drill #tools #diy", "c", "x.example")
    assert need is not None and (need.title, need.kind, need.category) == (
        "I need a drill #diy", Kind.GIVE, "tools",
    )  # fmt: skip
    long = "#offer " + "word " * 30
    cut = listing_text.parse_listing(long, "c", "x.example")
    assert cut is not None and cut.title.endswith("…") and len(cut.title) <= 80
    assert cut.description == ("word " * 30).strip()
    assert listing_text.parse_listing("Offering help, #community garden", "c", "x") is None
    with pytest.raises(ValidationFailed):
        listing_text.parse_listing("#need #tools", "c", "x.example")


async def _exchange_listing(member: Member, status_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = await member.get(f"{LISTINGS}/{status_id}")
    return shown


async def test_a_status_tagged_offer_is_published_as_a_listing(site: Site) -> None:
    """POST /statuses with #offer makes a listing; the status returned is the listing's."""
    sam = await site.member("sam")
    text = "#offer Ladder, 3 m #lend #tools\nCome and get it on Saturdays."
    headers = {"Idempotency-Key": "ladder-1"}
    status = await sam.post("/api/v1/statuses", data={"status": text}, headers=headers)
    check_status(status)
    assert {"offer", "tools"} <= {t["name"] for t in status["tags"]}
    assert status["card"]["title"] == "Offer: Ladder, 3 m"
    assert "<strong>Offer: Ladder, 3 m</strong>" in status["content"]
    listing = await _exchange_listing(sam, status["id"])
    assert (listing["purpose"], listing["kind"], listing["category"]) == ("offer", "lend", "tools")
    assert listing["description"] == "Come and get it on Saturdays."
    again = await sam.post("/api/v1/statuses", data={"status": text}, headers=headers)
    assert again["id"] == status["id"]
    mine = await sam.get(f"/api/v1/accounts/{sam.actor_id}/statuses")
    assert [s["id"] for s in mine] == [status["id"]]
    note = await site.http.get(status["uri"], headers={"Accept": "application/activity+json"})
    assert note.json()["type"] == ["Note", "Proposal"]
    assert note.json()["source"]["content"] == text

    # Deleting the status withdraws the listing, and hands back the text to redraft.
    deleted = await sam.call("DELETE", f"/api/v1/statuses/{status['id']}")
    assert deleted.json()["text"] == text
    assert (await _exchange_listing(sam, status["id"]))["state"] == "withdrawn"


async def test_a_need_to_the_community_with_a_photo(site: Site) -> None:
    """Mentioning the community with #need makes a need; its photo is the listing's."""
    tia = await site.member("tia")
    files = {"file": ("drill.png", png(4, 3), "image/png")}
    uploaded = (await tia.call("POST", "/api/v2/media", files=files)).json()
    community = site.instance.runtime.instance.community_username
    text = f"@{community} #need A drill for an afternoon #diy"
    status = await tia.post(
        "/api/v1/statuses", data={"status": text, "media_ids[]": uploaded["id"]}
    )
    check_status(status)
    assert status["mentions"] == [] and status["card"]["title"] == "Need: A drill for an afternoon"
    assert [m["id"] for m in status["media_attachments"]] == [uploaded["id"]]
    assert status["card"]["image"] == status["media_attachments"][0]["url"]
    listing = await _exchange_listing(tia, status["id"])
    assert (listing["purpose"], listing["category"]) == ("request", "diy")
    assert [p["url"] for p in listing["photos"]] == [status["media_attachments"][0]["url"]]


async def test_statuses_without_the_tags_or_not_public_stay_posts(site: Site) -> None:
    """The community mentioned without #offer/#need, or a private #offer, is a plain post."""
    uma = await site.member("uma")
    community = site.instance.runtime.instance.community_username
    for params in (
        {"status": f"@{community} hello all"},
        {"status": "#offer a secret", "visibility": "private"},
        {"status": "#offer spoiler", "spoiler_text": "cw"},
    ):
        status = await uma.post("/api/v1/statuses", data=params)
        check_status(status)
        assert status["card"] is None
        gone = await uma.call("GET", f"{LISTINGS}/{status['id']}")
        assert gone.status_code == 404
    check_json_error(await uma.call("POST", "/api/v1/statuses", data={"status": "#offer"}), 422)


async def _notifications(member: Member, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await member.get("/api/v1/notifications", params=params)
    for notification in found:
        check_notification(notification)
    return found


async def test_a_match_reaches_both_members_as_a_status_notification(site: Site) -> None:
    """Each side of a match hears of the other's listing: a status notification by its author."""
    xia = await site.member("xia")
    yan = await site.member("yan")
    zoe = await site.member("zoe")
    offer = await xia.post("/api/v1/statuses", data={"status": "#offer Sourdough starter #food"})
    need = await yan.post("/api/v1/statuses", data={"status": "Some sourdough starter #need"})
    [told_yan] = await _notifications(yan, **{"types[]": "status"})
    assert (told_yan["account"]["acct"], told_yan["status"]["id"]) == ("xia", offer["id"])
    assert told_yan["status"]["card"]["title"] == "Offer: Sourdough starter"
    [told_xia] = await _notifications(xia, **{"types[]": "status"})
    assert (told_xia["account"]["acct"], told_xia["status"]["id"]) == ("yan", need["id"])
    assert await _notifications(zoe) == []


async def test_a_common_word_is_no_match_but_a_shared_thing_is(site: Site) -> None:
    """A need "A drill for an afternoon" hears of no "Tent for two", but of "Cordless drill"."""
    kai = await site.member("kai")
    lea = await site.member("lea")
    mia = await site.member("mia")
    need = await kai.post("/api/v1/statuses", data={"status": "#need A drill for an afternoon"})
    await lea.post("/api/v1/statuses", data={"status": "#offer Tent for two"})
    assert await _notifications(kai, **{"types[]": "status"}) == []
    assert await _notifications(lea, **{"types[]": "status"}) == []
    offer = await mia.post("/api/v1/statuses", data={"status": "#offer Cordless drill"})
    [told_kai] = await _notifications(kai, **{"types[]": "status"})
    assert (told_kai["account"]["acct"], told_kai["status"]["id"]) == ("mia", offer["id"])
    told_mia = await _notifications(mia, **{"types[]": "status"})
    assert need["id"] in {n["status"]["id"] for n in told_mia}


async def _trade(member: Member, path: str, **body: Any) -> dict[str, Any]:
    response = await member.call("POST", f"/api/exchange/v1/trades{path}", json=body)
    assert response.status_code in (200, 201), response.text
    trade: dict[str, Any] = response.json()
    return trade


async def test_trade_steps_are_told_to_the_other_member_by_the_community(site: Site) -> None:
    """The other party's trade steps reach a member as a direct mention from the community."""
    ada = await site.member("ada")
    ben = await site.member("ben")
    tent = await ada.post("/api/v1/statuses", data={"status": "#offer Tent for two #camping"})
    listing = {"ref": tent["uri"], "title": "Tent for two", "kind": "offer"}
    trade = await _trade(
        ben, "", listing=listing, role="receiver", option="gift", **{"with": "ada"}
    )
    [told] = await _notifications(ada, **{"types[]": "mention"})
    community = await _community(site)
    notice = told["status"]
    assert told["account"]["id"] == community["id"] == notice["account"]["id"]
    assert notice["visibility"] == "direct" and [m["acct"] for m in notice["mentions"]] == ["ada"]
    assert "@ben</a> proposes a trade on" in notice["content"]
    assert f'<a href="{tent["uri"]}">“Tent for two”</a> (gift)' in notice["content"]
    assert f"<code>{trade['id']}</code>" in notice["content"]
    check_json_error(await ben.call("GET", f"/api/v1/statuses/{notice['id']}"), 404)
    assert await _notifications(ben) == []

    for _ in range(2):  # a step repeated with its key tells nobody twice
        await _trade(ada, f"/{trade['id']}/accept", id="yes")
    await _trade(ada, f"/{trade['id']}/deliver")
    answers = await _notifications(ben, **{"types[]": "mention"})
    said = [n["status"]["content"] for n in answers]  # newest first
    assert len(said) == 2 and "delivered" in said[0] and "accepted the trade on" in said[1]
    assert len(await _notifications(ada, **{"types[]": "mention"})) == 1  # not her own steps
