"""The exchange API's listings on one instance: create, edit, withdraw, show, search,
idempotent creation, the author's rights, bad input and photos."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, func, select

from fediverse_share import tables
from fediverse_share.listings.photos import MAX_PHOTO_BYTES
from tests.support.tokens import Community, SignedIn, community

API = "/api/exchange/v1"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 40, 30) + b"\x08\x02\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
GIF = b"GIF89a" + struct.pack("<HH", 5, 6) + b"\x00" * 20
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 30


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as site:
        yield site


def ladder(site: Community, **more: Any) -> dict[str, Any]:
    body = {"title": "Long ladder", "description": "Aluminium, 4 m.", "category": "tools",
            "kind": "rent", "purpose": "offer", "price": "2.50", "currency": site.currency,
            "quantity": "1", "location": "Kreuzberg"}  # fmt: skip
    return {**body, **more}


async def create(site: Community, who: SignedIn, body: dict[str, Any], key: str | None = None):
    headers = {**who.headers, **({"Idempotency-Key": key} if key else {})}
    return await site.http.post(f"{API}/listings", json=body, headers=headers)


async def created(site: Community, who: SignedIn, body: dict[str, Any]) -> dict[str, Any]:
    response = await create(site, who, body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refused(response: Any, status: int, code: str) -> None:
    assert response.headers["content-type"] == "application/json", response.text
    assert (response.status_code, response.json().get("code")) == (status, code), response.text


def _count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tables.listings)).scalar_one())


async def listings_stored(site: Community) -> int:
    return await site.instance.runtime.db.read(_count)


async def titles(site: Community, **query: Any) -> list[str]:
    response = await site.http.get(f"{API}/listings", params=query)
    assert response.status_code == 200, response.text
    return [listing["title"] for listing in response.json()["listings"]]


async def test_create_show_edit_search_and_withdraw(site: Community) -> None:
    """A member's listing goes through its life over the API; anyone reads and finds it."""
    alice = await site.sign_up("alice")
    expires = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    listing = await created(site, alice, ladder(site, expires_at=expires))
    domain = site.instance.domain
    assert listing["author"] == f"acct:alice@{domain}"
    assert (listing["kind"], listing["purpose"], listing["state"]) == ("rent", "offer", "active")
    assert listing["price"] == {"amount": "2.50", "currency": site.currency}
    assert listing["local"] is True and listing["community"].endswith("/exchange_community")
    assert listing["expires_at"] is not None and listing["photos"] == []
    url = f"{API}/listings/{listing['id']}"
    assert (await site.http.get(url)).json() == listing  # anonymous

    patch = {"title": "Longer ladder", "price": "3.00"}
    edited = await site.http.patch(url, json=patch, headers=alice.headers)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["title"], body["price"]["amount"], body["location"]) == (
        "Longer ladder", "3.00", "Kreuzberg",
    )  # fmt: skip
    assert body["expires_at"] == listing["expires_at"] and body["updated_at"]

    await created(site, alice, ladder(site, title="Drill", kind="give", price=None))
    assert await titles(site, q="ladd") == ["Longer ladder"]
    assert await titles(site, kind="give") == ["Drill"]
    assert await titles(site, min_price="2.75", max_price="3.00") == ["Longer ladder"]
    assert await titles(site, community=f"exchange_community@{domain}", limit=1) == ["Drill"]
    page = (await site.http.get(f"{API}/listings", params={"limit": 1, "offset": 1})).json()
    assert [x["title"] for x in page["listings"]] == ["Longer ladder"]
    assert await titles(site, community="nobody@elsewhere.example") == []

    gone = await site.http.delete(url, headers=alice.headers)
    assert gone.status_code == 200 and gone.json()["state"] == "withdrawn"
    assert (await site.http.delete(url, headers=alice.headers)).json()["state"] == "withdrawn"
    assert await titles(site, q="ladder") == []
    assert (await site.http.get(url)).json()["state"] == "withdrawn"


async def test_creating_with_an_idempotency_key_happens_once(site: Community) -> None:
    """The same key and body answer the same listing; another body under it is a 409."""
    alice = await site.sign_up("alice")
    first = await create(site, alice, ladder(site), key="ladder-1")
    again = await create(site, alice, ladder(site), key="ladder-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    refused(await create(site, alice, ladder(site, title="Other"), key="ladder-1"), 409,
            "idempotency_conflict")  # fmt: skip
    by_body = await create(site, alice, {**ladder(site), "id": "ladder-1"})
    assert by_body.json()["id"] == first.json()["id"]
    bob = await site.sign_up("bob")
    assert (await create(site, bob, ladder(site), key="ladder-1")).json()["id"] != first.json()[
        "id"
    ]
    assert await listings_stored(site) == 2


async def test_only_the_author_changes_a_listing(site: Community) -> None:
    """Others get 403 and change nothing; unknown ids are 404; no token is a 401."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    listing = await created(site, alice, ladder(site))
    url = f"{API}/listings/{listing['id']}"
    refused(await site.http.patch(url, json={"title": "Mine"}, headers=bob.headers), 403,
            "forbidden")  # fmt: skip
    refused(await site.http.delete(url, headers=bob.headers), 403, "forbidden")
    photo = await site.http.post(f"{url}/photos", files={"file": ("a.png", PNG)},
                                 headers=bob.headers)  # fmt: skip
    refused(photo, 403, "forbidden")
    assert (await site.http.get(url)).json() == listing
    for path in (f"{API}/listings/123", f"{API}/listings/x1", f"{API}/listings/%00"):
        assert (await site.http.get(path)).status_code == 404
        assert (await site.http.patch(path, json={}, headers=alice.headers)).status_code == 404
        assert (await site.http.delete(path, headers=alice.headers)).status_code == 404
    refused(await site.http.post(f"{API}/listings", json=ladder(site)), 401, "invalid_token")
    refused(await site.http.delete(url), 401, "invalid_token")


async def test_bad_listings_are_refused_and_nothing_is_stored(site: Community) -> None:
    """Unknown kinds, prices on gifts, other currencies, long titles, past expiry, NULs: 400."""
    alice = await site.sign_up("alice")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        (ladder(site, kind="auction"), "invalid_listing"),
        (ladder(site, kind="give"), "invalid_listing"),
        (ladder(site, currency="EUR"), "wrong_currency"),
        (ladder(site, title="x" * 201), "invalid_listing"),
        (ladder(site, title="   "), "invalid_listing"),
        (ladder(site, expires_at=past), "invalid_listing"),
        (ladder(site, expires_at="next week"), "invalid_listing"),
        (ladder(site, title="nul\x00"), "invalid_text"),
        (ladder(site, price="-1.00"), "invalid_amount"),
        (ladder(site, price="1.005"), "invalid_amount"),
        (ladder(site, category="two words"), "invalid_listing"),
        ({**ladder(site), "colour": "red"}, "unknown_field"),
    ]
    for body, code in cases:
        refused(await create(site, alice, body), 400, code)
    assert await listings_stored(site) == 0
    listing = await created(site, alice, ladder(site))
    url = f"{API}/listings/{listing['id']}"
    for patch, code in (({"kind": "swap"}, "invalid_listing"), ({"title": "\x00"}, "invalid_text")):
        refused(await site.http.patch(url, json=patch, headers=alice.headers), 400, code)
    assert (await site.http.get(url)).json() == listing
    refused(await site.http.get(f"{API}/listings", params={"kind": "auction"}), 400,
            "invalid_query")  # fmt: skip
    for name in ("purpose", "kind", "category", "community", "min_price", "max_price"):
        empty = await site.http.get(f"{API}/listings", params={name: ""})
        refused(empty, 400, "invalid_query")  # the schema says non-empty: so does the server
    refused(await site.http.get(f"{API}/listings", params={"q": "a\x00"}), 400, "invalid_text")


def _document(conn: Connection, listing_id: int) -> dict[str, Any]:
    doc = conn.execute(select(tables.posts.c.document).where(tables.posts.c.id == listing_id))
    return dict(orjson.loads(doc.scalar_one()))


async def test_photos_are_checked_served_and_attached_to_the_note(site: Community) -> None:
    """Images by their bytes are stored, served with their type and sent as Note attachments."""
    alice = await site.sign_up("alice")
    listing = await created(site, alice, ladder(site))
    url = f"{API}/listings/{listing['id']}/photos"

    async def upload(data: bytes, name: str = "photo.png", **form: str) -> Any:
        return await site.http.post(url, files={"file": (name, data, "image/png")}, data=form,
                                    headers=alice.headers)  # fmt: skip

    added = await upload(PNG, description="The ladder, folded")
    assert added.status_code == 201, added.text
    [photo] = added.json()["photos"]
    assert (photo["media_type"], photo["width"], photo["height"]) == ("image/png", 40, 30)
    assert photo["description"] == "The ladder, folded"
    served = await site.http.get(photo["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.content == PNG
    for data in (JPEG, GIF):
        assert (await upload(data, name="x.png")).status_code == 201
    refused(await upload(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), 400,
            "unsupported_media_type")  # fmt: skip
    refused(await upload(b"\x00\x00\x00\x1cftypavif" + b"\x00" * 20), 400,
            "unsupported_media_type")  # fmt: skip
    refused(await upload(PNG + b"\x00" * MAX_PHOTO_BYTES), 413, "photo_too_large")
    refused(await upload(b""), 400, "invalid_photo")
    assert (await upload(WEBP)).status_code == 201
    refused(await upload(PNG), 400, "too_many_photos")

    shown = (await site.http.get(f"{API}/listings/{listing['id']}")).json()
    kinds = [p["media_type"] for p in shown["photos"]]
    assert kinds == ["image/png", "image/jpeg", "image/gif", "image/webp"]
    note = await site.instance.runtime.db.read(_document, int(listing["id"]))
    assert [a["type"] for a in note["attachment"]] == ["Image"] * 4
    assert note["attachment"][0] == {"type": "Image", "mediaType": "image/png",
                                     "url": photo["url"], "name": "The ladder, folded",
                                     "width": 40, "height": 30}  # fmt: skip
    edited = await site.http.patch(
        f"{API}/listings/{listing['id']}", json={"title": "Ladder"}, headers=alice.headers
    )
    assert len(edited.json()["photos"]) == 4  # an edit keeps the photos
