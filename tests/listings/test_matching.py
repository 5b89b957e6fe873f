"""Matching on one instance: listings match through meaningful words, not common ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from fediverse_share import members, tables
from fediverse_share.clock import now_us
from fediverse_share.listings import store
from fediverse_share.listings.matching import find_matches
from fediverse_share.listings.model import Draft, Kind, Listing, Purpose, get_listing
from fediverse_share.listings.terms import LISTING_WORDS, STOP_WORDS, meaningful_terms
from fediverse_share.members import Member
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    async with running_instance("a", tmp_path, TEST_DATABASE_URL) as a:
        yield a


async def _publish(instance: Instance, member: Member, purpose: Purpose, title: str) -> Listing:
    """A listing in the category ``general``, so only its words can match it."""
    draft = Draft(purpose, Kind.LEND, title, "", "general", price_minor=None)
    return await instance.runtime.db.write(
        store.publish_listing, instance.runtime, member.actor_id, draft
    )


def _matched(conn: Connection) -> set[tuple[str, str]]:
    """(own title, matched title) of every stored match."""
    m, own, other = (
        tables.listing_matches,
        tables.listings.alias("own"),
        tables.listings.alias("other"),
    )
    rows = conn.execute(
        select(own.c.title, other.c.title).select_from(
            m.join(own, own.c.id == m.c.own_listing_id).join(
                other, other.c.id == m.c.matched_listing_id
            )
        )
    )
    return {(own_title, other_title) for own_title, other_title in rows}


def _found(listing_id: int) -> object:
    """A read: the titles `find_matches` finds for a listing now."""

    def run(conn: Connection) -> list[str]:
        listing = get_listing(conn, listing_id)
        return [match.title for match, _ in find_matches(conn, listing, now_us())]

    return run


def test_meaningful_terms_leave_out_stop_words_and_short_words() -> None:
    """Stop words of five languages, listing words and words of two letters drop out."""
    assert meaningful_terms("Tent for two") == ["tent", "two"]
    assert meaningful_terms("A drill for an afternoon") == ["drill", "afternoon"]
    assert meaningful_terms("Need a drill, need it") == ["drill"]
    assert meaningful_terms("Suche eine Bohrmaschine für den Garten") == [
        "bohrmaschine",
        "garten",
    ]
    assert meaningful_terms("Une perceuse pour les vacances") == ["perceuse", "vacances"]
    assert meaningful_terms("Busco un taladro para el jardín") == ["taladro", "jardín"]
    assert meaningful_terms("Een boormachine voor de tuin") == ["boormachine", "tuin"]
    assert meaningful_terms("FÜR DIE KÜCHE") == ["küche"]
    assert meaningful_terms("Car, van or door with a hoe") == ["car", "van", "door", "hoe"]
    assert meaningful_terms("the of a to") == []
    assert all(len(word) > 2 and word == word.lower() for word in STOP_WORDS | LISTING_WORDS)


async def test_common_words_make_no_match(instance: Instance) -> None:
    """Titles sharing only "for" (or "für den") make no match, either way."""
    alice = await members.add_member(instance.runtime, "alice", None)
    bob = await members.add_member(instance.runtime, "bob", None)
    drill = await _publish(instance, alice, Purpose.OFFER, "A drill for an afternoon")
    await _publish(instance, alice, Purpose.OFFER, "Bohrmaschine für den Garten")
    tent = await _publish(instance, bob, Purpose.REQUEST, "Tent for two")
    await _publish(instance, bob, Purpose.REQUEST, "Ein Zelt für den Urlaub")
    assert await instance.runtime.db.read(_matched) == set()
    assert await instance.runtime.db.read(_found(tent.id)) == []
    assert await instance.runtime.db.read(_found(drill.id)) == []


async def test_a_shared_meaningful_word_still_makes_a_match(instance: Instance) -> None:
    """A "drill" offer and "Need a drill" match, as do German titles sharing "Bohrmaschine"."""
    alice = await members.add_member(instance.runtime, "alice", None)
    bob = await members.add_member(instance.runtime, "bob", None)
    await _publish(instance, alice, Purpose.OFFER, "Cordless drill")
    await _publish(instance, alice, Purpose.OFFER, "Bohrmaschine für den Garten")
    need = await _publish(instance, bob, Purpose.REQUEST, "Need a drill")
    await _publish(instance, bob, Purpose.REQUEST, "Suche eine Bohrmaschine")
    assert await instance.runtime.db.read(_matched) == {
        ("Cordless drill", "Need a drill"),
        ("Need a drill", "Cordless drill"),
        ("Bohrmaschine für den Garten", "Suche eine Bohrmaschine"),
        ("Suche eine Bohrmaschine", "Bohrmaschine für den Garten"),
    }
    assert await instance.runtime.db.read(_found(need.id)) == ["Cordless drill"]
