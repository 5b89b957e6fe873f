"""Malformed listings sent, signed for real, to a real inbox: refused or sanitised."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, func, select

from activitypub.cavage import sign_request
from fediverse_share import members, tables
from fediverse_share.federation import posts
from fediverse_share.members import Member
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance
from tests.support.serve import fixture_url, serve_static_fixtures

JSON = "application/activity+json"
API = "/api/exchange/v1"


def _proposal(uri: str, author: str, **changes: Any) -> dict[str, Any]:
    doc = {
        "id": uri,
        "type": ["Note", "Proposal"],
        "attributedTo": author,
        "name": "Blue bike",
        "content": "<p>Blue bike, some rust.</p>",
        "purpose": "offer",
        "publishes": {
            "type": "Intent",
            "action": "transfer",
            "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "1"},
        },
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    return doc | changes


async def _send_create(to: Instance, sender: Instance, member: Member, obj: Any) -> httpx.Response:
    """POST ``Create(obj)`` by ``member`` to ``to``'s inbox, signed with their key."""
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{member.uri}/activities/{uuid.uuid4()}",
        "type": "Create",
        "actor": member.uri,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": obj,
    }
    body = orjson.dumps(activity)
    url = f"{to.base_url}/inbox"
    key = await sender.runtime.keys.signing_key(member.actor_id)
    headers = {"Content-Type": JSON}
    headers |= sign_request(
        "POST", url, headers, body, key_id=f"{member.uri}#main-key", private_key=key.private_key
    )
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers=headers)


def _stored(conn: Connection) -> tuple[int, int]:
    """(posts, listings) held here."""
    count = func.count()
    return (
        conn.execute(select(count).select_from(tables.posts)).scalar_one(),
        conn.execute(select(count).select_from(tables.listings)).scalar_one(),
    )


def _inbox_errors(conn: Connection) -> list[str]:
    i = tables.inbox_items
    return list(conn.execute(select(i.c.error).where(i.c.error.is_not(None))).scalars())


async def test_a_listing_with_an_id_on_another_host_is_refused(
    two: tuple[Instance, Instance], tmp_path: Path
) -> None:
    """Embedded, it is a 403 at the door; fetched from another host, the worker refuses it."""
    a, b = two
    bob = await members.add_member(b.runtime, "bob", None)
    foreign = _proposal("https://elsewhere.example/listings/1", bob.uri)
    refused = await _send_create(a, b, bob, foreign)
    assert (refused.status_code, refused.json()["code"]) == (403, "origin_mismatch")

    root = tmp_path / "fixtures"
    (root / "elsewhere.example" / "listings").mkdir(parents=True)
    (root / "elsewhere.example" / "listings" / "1.json").write_bytes(orjson.dumps(foreign))
    async with serve_static_fixtures(root) as served:
        url = fixture_url(served, foreign["id"])
        assert (await _send_create(a, b, bob, url)).status_code == 202
        await run_until_idle(a.runtime, b.runtime)
    [error] = await a.runtime.db.read(_inbox_errors)
    assert error.startswith("OriginMismatch:") and url in error
    assert await a.runtime.db.read(_stored) == (0, 0)


async def test_a_listing_with_scripts_is_stored_sanitised(two: tuple[Instance, Instance]) -> None:
    """Scripts, handlers and styles are gone from the post, the listing and the API."""
    a, b = two
    bob = await members.add_member(b.runtime, "bob", None)
    uri = f"{bob.uri}/statuses/1"
    content = (
        '<p>Blue bike<script>alert("x")</script></p><img src=x onerror="alert(1)">'
        '<p onclick="steal()" style="color:red">Some rust</p>'
    )
    sent = await _send_create(a, b, bob, _proposal(uri, bob.uri, name=None, content=content))
    assert sent.status_code == 202
    await run_until_idle(a.runtime, b.runtime)
    assert await a.runtime.db.read(_inbox_errors) == []

    post = await a.runtime.db.read(posts.find_post, uri)
    assert post is not None and post["content"] == "<p>Blue bike</p><p>Some rust</p>"
    async with httpx.AsyncClient(base_url=a.base_url) as client:
        found = (await client.get(f"{API}/listings", params={"q": "bike"})).json()["listings"]
    [listing] = found
    assert (listing["title"], listing["description"]) == ("Blue bike", "Some rust")
    for text in (post["content"], listing["title"], listing["description"]):
        assert "alert" not in text and "steal" not in text and "<script" not in text


async def test_a_listing_with_a_negative_price_is_not_stored(
    two: tuple[Instance, Instance],
) -> None:
    """The inbox item records ListingInvalid; neither the post nor the listing is kept."""
    a, b = two
    bob = await members.add_member(b.runtime, "bob", None)
    reciprocal = {
        "type": "Intent",
        "action": "transfer",
        "resourceConformsTo": f"{b.base_url}/currencies/BX",
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "-5"},
    }
    broken = _proposal(f"{bob.uri}/statuses/2", bob.uri, reciprocal=reciprocal)
    assert (await _send_create(a, b, bob, broken)).status_code == 202
    await run_until_idle(a.runtime, b.runtime)
    assert await a.runtime.db.read(_inbox_errors) == [
        "ListingInvalid: a price cannot be negative (-5)"
    ]
    assert await a.runtime.db.read(_stored) == (0, 0)
