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


async def _found(instance: Instance, query: SearchQuery) -> list[str]:
    def run(conn: Connection) -> list[str]:
        return [listing.title for listing, _ in search(conn, query, now_us())]

    return await instance.runtime.db.read(run)


async def _analyze(instance: Instance) -> None:
    """Give the planner statistics, which PostgreSQL's search also reads (the quantiles
    of ids it slices by, and the frequencies of keys)."""

    def analyze(conn: Connection) -> None:
        conn.exec_driver_sql("ANALYZE listings")
        if conn.dialect.name == "postgresql":
            known = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND"
                " ((tablename = 'listings' AND attname = 'id' AND histogram_bounds IS NOT NULL)"
                " OR (tablename = 'fts_listings_keys' AND most_common_elems IS NOT NULL))"
            )
            assert known.scalar_one() == 2

    await instance.runtime.db.exclusive(analyze)


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "statistics"])
async def test_only_the_newest_candidates_are_ranked(instance: Instance, analyzed: bool) -> None:
    """The best of the newest ``candidates`` matches that pass the filters come back:
    an older, better match beyond them is not found, and filters cut before the bound
    (the matches that pass are older than those that do not, so the search reaches
    past the newest listings for them). With statistics or without."""
    alice = await members.add_member(instance.runtime, "alice", None)
    await _publish(instance, alice, "Ladder", category="garden")
    for n in range(1, 5):
        description = f"Bring the ladder back, number {n}."
        await _publish(instance, alice, f"Tools {n}", description=description)
    await _publish(instance, alice, "Hedge trimmer", category="garden")
    if analyzed:
        await _analyze(instance)

    newest = SearchQuery(text="ladder", candidates=3, limit=3)
    assert await _found(instance, newest) == ["Tools 4", "Tools 3", "Tools 2"]
    in_the_garden = SearchQuery(text="ladder", category="garden", candidates=3, limit=3)
    assert await _found(instance, in_the_garden) == ["Ladder"]
    everything = await _found(instance, SearchQuery(text="ladder", candidates=5, limit=5))
    assert everything == ["Ladder", "Tools 4", "Tools 3", "Tools 2", "Tools 1"]
    if instance.runtime.db.dialect == "postgresql":
        assert await instance.runtime.db.read(_planner_settings_kept) is True


def _planner_settings_kept(conn: Connection) -> bool:
    """Whether the rest of a transaction plans as before a search (which changes the
    planner's settings for its own statements)."""
    names = ("enable_indexscan", "max_parallel_workers_per_gather")

    def settings() -> list[str]:
        return [conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in names]

    before = settings()
    search(conn, SearchQuery(text="ladder", category="garden", candidates=3), now_us())
    return settings() == before


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "statistics"])
async def test_words_and_filters_find_exactly_what_passes(
    instance: Instance, analyzed: bool
) -> None:
    """With words, each filter (purpose, kind, category, community, price) keeps the
    listings that pass it and only those; a word is a prefix ("lad" finds "ladder",
    "ladders" does not), also past the first eight letters ("encyclopedia" finds
    "encyclopedias" but not "encyclopedic")."""
    alice = await members.add_member(instance.runtime, "alice", None)
    runtime = instance.runtime
    drafts = [
        Draft(Purpose.OFFER, Kind.LEND, "Ladder", "", "tools", None),
        Draft(Purpose.REQUEST, Kind.LEND, "Ladder wanted", "", "tools", None),
        Draft(Purpose.OFFER, Kind.SELL, "Ladder for sale", "", "tools", 2_500),
        Draft(Purpose.OFFER, Kind.SELL, "Cheap ladder", "", "tools", 500),
        Draft(Purpose.OFFER, Kind.GIVE, "Garden ladder", "", "garden", None),
        Draft(Purpose.OFFER, Kind.GIVE, "Encyclopedias", "", "books", None),
        Draft(Purpose.OFFER, Kind.GIVE, "Encyclopedic dictionary", "", "books", None),
    ]
    for draft in drafts:
        await runtime.db.write(store.publish_listing, runtime, alice.actor_id, draft)
    if analyzed:
        await _analyze(instance)
    community = runtime.instance.community_uri

    async def titles(**filters: Any) -> set[str]:
        return set(await _found(instance, SearchQuery(**filters)))

    assert await titles(text="lad") == {d.title for d in drafts if "adder" in d.title}
    assert await titles(text="ladders") == set()
    assert await titles(text="ladder", purpose=Purpose.REQUEST) == {"Ladder wanted"}
    assert await titles(text="ladder", kind=Kind.SELL) == {"Ladder for sale", "Cheap ladder"}
    assert await titles(text="ladder", category="garden") == {"Garden ladder"}
    assert await titles(text="ladder", max_price_minor=1_000) == {"Cheap ladder"}
    assert await titles(text="ladder", min_price_minor=1_000) == {"Ladder for sale"}
    assert len(await titles(text="ladder", community_uri=community)) == 5
    assert await titles(text="ladder", community_uri="https://elsewhere.example/c") == set()
    assert await titles(text="encyclopedia") == {"Encyclopedias"}
    assert await titles(text="encyclopedi") == {"Encyclopedias", "Encyclopedic dictionary"}
    assert await titles(text="garden ladder") == {"Garden ladder"}


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "statistics"])
async def test_a_price_range_keeps_exactly_the_prices_within_it(
    instance: Instance, analyzed: bool
) -> None:
    """Both ends of a price range are included, a listing without a price (ours) never
    passes one, and a range that holds no price, or ends below its start, finds none."""
    alice = await members.add_member(instance.runtime, "alice", None)
    runtime = instance.runtime
    prices = {"Free": 0, "A": 99, "B": 100, "C": 101, "D": 1_000, "E": 10_000}
    for name, price in prices.items():
        draft = Draft(Purpose.OFFER, Kind.SELL, f"Ladder {name}", "", "tools", price)
        await runtime.db.write(store.publish_listing, runtime, alice.actor_id, draft)
    draft = Draft(Purpose.OFFER, Kind.LEND, "Ladder unpriced", "", "tools", None)
    await runtime.db.write(store.publish_listing, runtime, alice.actor_id, draft)
    if analyzed:
        await _analyze(instance)

    async def names(low: int | None, high: int | None) -> set[str]:
        query = SearchQuery(text="ladder", min_price_minor=low, max_price_minor=high)
        return {title.removeprefix("Ladder ") for title in await _found(instance, query)}

    assert await names(100, None) == {"B", "C", "D", "E"}
    assert await names(None, 100) == {"Free", "A", "B"}
    assert await names(100, 100) == {"B"}
    assert await names(100, 1_000) == {"B", "C", "D"}
    assert await names(0, None) == set(prices)
    assert await names(None, 0) == {"Free"}
    assert await names(102, 999) == set()
    assert await names(1_000, 100) == set()
    assert await names(10_001, None) == set()
    assert len(await names(None, None)) == len(prices) + 1


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "statistics"])
async def test_searches_add_nothing_to_the_cache_of_statements(
    instance: Instance, analyzed: bool
) -> None:
    """Searches for new words, with filters or a second page, add no compiled statement
    to the engine's cache once each shape of search has run: the words are written into
    the statements as they run, not into their compiled forms (one per search in the
    cache made the GC's full collections walk ~170,000 more objects, 40-115 ms each)."""
    alice = await members.add_member(instance.runtime, "alice", None)
    words = ["ladder", "drill", "sander", "hammer", "grinder", "jigsaw", "toolbox", "saw"]
    for word in words:
        await _publish(instance, alice, f"Sturdy {word}", description=f"A {word} to lend.")
    if analyzed:
        await _analyze(instance)

    def queries(word: str) -> list[SearchQuery]:
        return [
            SearchQuery(text=word),
            SearchQuery(text=f"sturdy {word}", kind=Kind.LEND, max_price_minor=900),
            SearchQuery(text=word[:3], category="tools", limit=1, offset=1),
        ]

    def cached_after(conn: Connection, searched: list[str]) -> int:
        for word in searched:
            for query in queries(word):
                search(conn, query, now_us())
        assert conn.engine._compiled_cache is not None
        return len(conn.engine._compiled_cache)

    first = await instance.runtime.db.read(cached_after, words[:1])
    assert await instance.runtime.db.read(cached_after, words[1:]) == first


async def test_the_index_survives_a_downgrade_and_an_upgrade(instance: Instance) -> None:
    """Revision 0008 moved PostgreSQL's index into ``listings``; going back fills the
    table of 0001 again and coming back finds the same listings (SQLite: unchanged)."""
    alice = await members.add_member(instance.runtime, "alice", None)
    await _publish(instance, alice, "Ladder")
    await _publish(instance, alice, "Hedge trimmer", description="No ladder needed.")
    before = await _titles_at(instance, now_us(), "ladder")
    assert sorted(before) == ["Hedge trimmer", "Ladder"]

    def migrate(conn: Connection, revision: str) -> None:
        from alembic import command

        from fediverse_share.migrations import alembic_config

        config = alembic_config(conn)
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    await instance.runtime.db.exclusive(migrate, "0007_trade_clearing")
    if instance.runtime.db.dialect == "postgresql":

        def indexed(conn: Connection) -> int:
            return int(conn.exec_driver_sql("SELECT count(*) FROM fts_listings").scalar_one())

        assert await instance.runtime.db.read(indexed) == 2
    await instance.runtime.db.exclusive(migrate, "head")
    assert await _titles_at(instance, now_us(), "ladder") == before
