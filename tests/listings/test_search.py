"""Search on one instance: expired listings drop out, better matches come first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from fediverse_share import members
from fediverse_share.clock import now_us
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Listing, Purpose
from fediverse_share.listings.search import SearchQuery, search
from fediverse_share.members import Member
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance

HOUR_US = 3_600 * 1_000_000


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    async with running_instance("a", tmp_path, TEST_DATABASE_URL) as a:
        yield a


async def _publish(instance: Instance, member: Member, title: str, **more: Any) -> Listing:
    values: dict[str, Any] = {"description": "", "category": "tools"} | more
    draft = Draft(Purpose.OFFER, Kind.LEND, title, price_minor=None, **values)
    return await instance.runtime.db.write(
        store.publish_listing, instance.runtime, member.actor_id, draft
    )


async def _api_titles(instance: Instance, **params: Any) -> list[str]:
    async with httpx.AsyncClient(base_url=instance.base_url) as client:
        response = await client.get("/api/exchange/v1/listings", params=params)
    assert response.status_code == 200, response.text
    return [listing["title"] for listing in response.json()["listings"]]


def _ranked(at_us: int, text: str) -> Any:
    """A read: (title, rank) of what ``text`` finds at ``at_us``, best first."""

    def run(conn: Connection) -> list[tuple[str, float]]:
        return [(x.title, rank) for x, rank in search(conn, SearchQuery(text=text), at_us)]

    return run


async def _titles_at(instance: Instance, at_us: int, text: str) -> list[str]:
    return [title for title, _ in await instance.runtime.db.read(_ranked(at_us, text))]


async def test_an_expired_listing_drops_out_of_search(instance: Instance) -> None:
    """Found until its expiry, gone after it, with or without search words."""
    alice = await members.add_member(instance.runtime, "alice", None)
    expires_at_us = now_us() + HOUR_US
    await _publish(instance, alice, "Ladder for the weekend", expires_at_us=expires_at_us)
    await _publish(instance, alice, "Ladder stand")
    assert sorted(await _api_titles(instance, q="ladder")) == [
        "Ladder for the weekend",
        "Ladder stand",
    ]
    assert len(await _titles_at(instance, expires_at_us - 1, "ladder")) == 2
    assert await _titles_at(instance, expires_at_us, "ladder") == ["Ladder stand"]
    assert await _titles_at(instance, expires_at_us + HOUR_US, "") == ["Ladder stand"]


async def test_a_better_match_ranks_first(instance: Instance) -> None:
    """A title match outranks a newer listing that names the word once in its text."""
    alice = await members.add_member(instance.runtime, "alice", None)
    await _publish(instance, alice, "Aluminium ladder")
    await _publish(
        instance,
        alice,
        "Garden tools",
        description="Spade, rake and shears; I can bring a ladder too.",
        category="garden",
    )
    await _publish(instance, alice, "Hedge trimmer")
    assert await _api_titles(instance, q="ladder") == ["Aluminium ladder", "Garden tools"]
    ranked = await instance.runtime.db.read(_ranked(now_us(), "ladder"))
    assert [title for title, _ in ranked] == ["Aluminium ladder", "Garden tools"]
    assert ranked[0][1] > ranked[1][1]
    assert await _api_titles(instance) == ["Hedge trimmer", "Garden tools", "Aluminium ladder"]
