"""A listing's JSON as a Mastodon server reads it, fetched from a running instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from activitypub.objects import host_of
from fediverse_share import members
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Listing, Purpose
from fediverse_share.members import Member
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance

AP = {"Accept": "application/activity+json"}
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    async with running_instance("a", tmp_path, TEST_DATABASE_URL) as a:
        yield a


async def _publish(instance: Instance, member: Member, **more: Any) -> Listing:
    values: dict[str, Any] = {
        "purpose": Purpose.OFFER,
        "kind": Kind.SELL,
        "title": "Sourdough starter",
        "description": "A jar of it, fed daily.",
        "category": "food",
        "price_minor": 250,
    }
    draft = Draft(**(values | more))
    return await instance.runtime.db.write(
        store.publish_listing, instance.runtime, member.actor_id, draft
    )


async def _get_json(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers=AP)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/activity+json")
    document: dict[str, Any] = response.json()
    return document


async def test_listing_json_has_the_shape_mastodon_expects(instance: Instance) -> None:
    """Literal Note in type, content, no summary, published, attributedTo a same-host actor."""
    alice = await members.add_member(instance.runtime, "alice", None)
    listing = await _publish(instance, alice)
    doc = await _get_json(listing.uri)

    assert doc["id"] == listing.uri
    assert isinstance(doc["type"], list) and "Note" in doc["type"] and "Proposal" in doc["type"]
    assert "summary" not in doc
    assert isinstance(doc["content"], str) and "Sourdough starter" in doc["content"]
    assert datetime.fromisoformat(doc["published"].replace("Z", "+00:00")).tzinfo is not None
    assert PUBLIC in doc["to"]

    author = doc["attributedTo"]
    assert isinstance(author, str) and host_of(author) == host_of(doc["id"])
    actor = await _get_json(author)
    assert (actor["id"], actor["type"]) == (author, "Person")
    assert actor["publicKey"]["owner"] == author


async def test_listing_content_links_its_page(instance: Instance) -> None:
    """Content holds title, description, price and a link to the page browsers get."""
    alice = await members.add_member(instance.runtime, "alice", None)
    listing = await _publish(instance, alice)
    doc = await _get_json(listing.uri)
    content = doc["content"]
    for part in ("Sourdough starter", "A jar of it, fed daily.", "2.50 AX"):
        assert part in content
    assert doc["url"].startswith(instance.base_url) and f'<a href="{doc["url"]}"' in content
    async with httpx.AsyncClient() as client:
        page = await client.get(doc["url"], headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Sourdough starter" in page.text
