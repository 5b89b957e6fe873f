"""Listing search: the exchange API's search at 100,000 and 1,000,000 listings, and the
rate at which listings arriving in the inbox are stored.

    .venv/bin/python bench/search.py [--sizes 100000 1000000] [--samples 1000]
    .venv/bin/python bench/search.py --sizes 10000 --ingest 500       # a quick run
    .venv/bin/python bench/search.py --no-sqlite --postgres postgresql://postgres@host/db
    .venv/bin/python bench/search.py --keep /tmp/kept      # seeded once, reused next time

An instance (``fediverse-share init``: SQLite in a temporary data directory, then a
PostgreSQL schema of its own, dropped afterwards; ``--postgres ''`` skips it) runs in
this process through `fediverse_share.standalone.runtime`. Its listings are written
straight into ``actors``, ``users``, ``posts`` and ``listings`` by executemany in
batches of 20,000 (a bench may; tests may not), and the full-text index fills as it
does in production (`fediverse_share.listings.search_index`: triggers on SQLite, a
generated column and an expression index on PostgreSQL).
They come from 100 local members (a tenth of the listings, priced in our currency)
and 1,900 members of 19 other communities; each is an offer or a need of one of 30
categories, with a title (an adjective or a phrase around one of ~250 nouns), a
description of one to three sentences, a location half of the time; 5% have expired
and 2% are withdrawn. Sizes grow one database: after the first size is measured,
listings are added up to the next. With ``--keep`` the databases stay (SQLite in that
directory, PostgreSQL in schema ``bench_search_kept``) and a later run with the same
``--keep`` adds only what its sizes lack (a size below what is kept is skipped); they
are upgraded first, as a server's would be. After each load the planner gets statistics
(``ANALYZE``; ``VACUUM ANALYZE`` on PostgreSQL, as autovacuum would).

Search: ``--samples`` queries (bounded by ``--max-seconds``) from a fixed mix, each
through the exchange API's own service function (``GET /api/exchange/v1/listings``
without the HTTP layer: parsing the query string, resolving a community handle,
`listings.search.search`, loading the 20 views and rendering them to JSON), with the
cyclic GC set up as a server's (`fediverse_share.asgi.settle_collector`). Printed:
p50 and p99 of the mix and of each kind of query in it. A query is stopped after
``--query-seconds`` (PostgreSQL's ``statement_timeout``, a progress handler on SQLite)
and counts with the time it had taken: a lower bound, and said so.

Ingest: ``--ingest`` ``Create`` activities of remote ``Note``+``Proposal`` listings from
a member of another community (whose actor document is cached, so no fetch) are
stored as inbox items first (`federation.inbox.store`, not timed), then processed by
the worker's own step, `federation.inbox.process_pending`, until none is left: parsing,
`handlers._store_post`, the post and the listing with their index rows, and
`listings.matching.record_matches` (two searches per listing against the whole
database). It stops after ``--ingest-seconds`` (on SQLite the statement running then is
stopped too, and its item left out); every other item must end processed without
error. Prints figures; asserts no timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from common import (
    InstanceSpec,
    free_port,
    init_instance,
    percentile_ms,
    postgres_execute,
    postgres_schema,
    print_table,
    run_async,
)
from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import DBAPIError

from exchange.money import Currency, render_amount
from exchange.settings import get_currency
from fediverse_share import migrations, standalone, tables
from fediverse_share.asgi import settle_collector
from fediverse_share.clock import now_us, render_iso
from fediverse_share.exchange_api.listings import _search as search_service
from fediverse_share.federation import inbox
from fediverse_share.ids import id_for_time
from fediverse_share.listings.model import Draft, Kind, Purpose
from fediverse_share.listings.wire import Price, render_proposal_fields
from fediverse_share.runtime import InstanceInfo, Runtime
from fediverse_share.settings import Settings

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
KEPT_SCHEMA = "bench_search_kept"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
BATCH = 20_000
INGEST_CHUNK = 10
LOCAL_MEMBERS, AUTHORS, REMOTE_COMMUNITIES = 100, 2_000, 19
ACTORS_BASE, GROUPS_BASE, USERS_BASE = 1_000, 5_000, 10_000
START_MS = 1_700_000_000_000
DAY_US = 86_400 * 1_000_000
DOCUMENT = orjson.dumps({"type": ["Note", "Proposal"]}).decode()

# --- what members write ----------------------------------------------------------------

CATEGORIES = {
    "tools": "ladder drill saw hammer sander wheelbarrow toolbox workbench jigsaw grinder",
    "garden": "lawnmower hedgetrimmer rake shovel hose seedlings compost trellis pruner",
    "bikes": "bicycle tandem trailer helmet pump saddle tricycle cargobike",
    "kitchen": "mixer blender dehydrator pasta mould juicer kettle wok pressure cooker",
    "books": "novel atlas cookbook encyclopedia comics poetry textbook dictionary",
    "childcare": "babysitting pram cot highchair carseat stroller nanny playpen",
    "rooms": "guestroom attic garage studio storage cellar office workshop",
    "lessons": "guitar piano french spanish maths chess yoga painting",
    "music": "amplifier violin drumkit keyboard microphone speakers ukulele cello",
    "electronics": "projector camera printer scanner router soldering radio monitor",
    "clothes": "jacket boots coat dress suit raincoat sweater scarf",
    "furniture": "sofa wardrobe bookshelf desk armchair mattress dresser table",
    "sports": "skis snowboard kayak tent racket skates surfboard weights",
    "camping": "sleeping bag stove lantern backpack hammock cooler tarp",
    "repairs": "plumbing wiring sewing upholstery puncture tiling roofing welding",
    "transport": "van carpool lift trolley roofbox towbar minibus scooter",
    "food": "jam honey sourdough eggs apples zucchini pickles chutney",
    "crafts": "loom kiln yarn beads easel embroidery pottery knitting",
    "computers": "laptop tablet keyboard mouse charger harddrive webcam server",
    "pets": "petsitting kennel aquarium leash birdcage catflap grooming walking",
    "toys": "lego puzzle dollhouse trainset boardgame kite marbles rocking",
    "health": "crutches wheelchair massage walker bandages thermometer",
    "cleaning": "vacuum steamer carpet washer polisher mop ironing windows",
    "moving": "boxes dolly straps blankets packing removal hauling lifting",
    "photography": "tripod lens flash darkroom enlarger backdrop softbox",
    "art": "canvas frames paints brushes printing press sculpture",
    "games": "console controller cartridge chessboard cards dominoes",
    "plants": "cuttings succulents orchids ferns bulbs pots cactus",
    "baby": "bottles sling monitor bouncer nappies swaddle",
    "language": "translation tutoring conversation proofreading german italian",
}
ADJECTIVES = (
    "cordless", "heavy", "electric", "small", "large", "vintage", "sturdy", "folding",
    "portable", "wooden", "old", "new", "spare", "handmade", "antique", "compact", "quiet",
)  # fmt: skip
PLACES = (
    "Northside", "Riverside", "Oldtown", "Harbour", "Hillcrest", "Millbrook", "Eastgate",
    "Westfield", "Parkview", "Southbank", "Greenhill", "Canalside",
)  # fmt: skip
DAYS = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "weekends", "evenings",
)  # fmt: skip
CONDITIONS = (
    "like new",
    "well used but working",
    "in good condition",
    "with a few scratches",
    "freshly serviced",
    "missing one part",
)
SENTENCES = (
    "{Adjective} {noun}, {condition}.",
    "Pick up in {place} on {day}.",
    "I can bring it over within {place} on {day}.",
    "Ask me about the {other} too.",
    "Happy to show how the {noun} works before you take it.",
    "Please return the {noun} clean and within a week.",
    "Swapping for a {other} would suit me as well.",
    "Ideal for a first project or a small flat in {place}.",
)
NOUNS = {category: words.split() for category, words in CATEGORIES.items()}
_PURPOSES = (Purpose.OFFER, Purpose.REQUEST)
_KINDS = list(Kind)
_KIND_WEIGHTS = (20, 30, 10, 25, 5, 10)  # give lend rent sell swap service
_PRICED = frozenset({Kind.RENT, Kind.SELL, Kind.SERVICE})


def write_draft(rng: random.Random) -> Draft:
    """A member's listing (its price in minor units, whatever the currency)."""
    category = rng.choice(list(NOUNS))
    noun, other = rng.choice(NOUNS[category]), rng.choice(NOUNS[category])
    purpose = _PURPOSES[rng.random() < 0.3]
    kind = rng.choices(_KINDS, _KIND_WEIGHTS)[0]
    if purpose is Purpose.REQUEST:
        title = rng.choice(("Looking for a {noun}", "Need a {noun}", "Who has a {noun}?"))
    else:
        title = rng.choice(("{Adjective} {noun}", "{Adjective} {noun} in {place}", "{Noun}"))
    words = {
        "noun": noun,
        "Noun": noun.capitalize(),
        "other": other,
        "Adjective": rng.choice(ADJECTIVES).capitalize(),
        "place": rng.choice(PLACES),
        "day": rng.choice(DAYS),
        "condition": rng.choice(CONDITIONS),
    }
    sentences = rng.sample(SENTENCES, rng.randint(1, 3))
    return Draft(
        purpose=purpose,
        kind=kind,
        title=title.format(**words),
        description=" ".join(sentence.format(**words) for sentence in sentences),
        category=category,
        price_minor=rng.randrange(100, 20_000) if kind in _PRICED else None,
        location=rng.choice(PLACES) if rng.random() < 0.5 else None,
    )


# --- who writes it ---------------------------------------------------------------------


def remote_domain(author: int) -> str:
    return f"remote{author % REMOTE_COMMUNITIES + 1}.example"


def author_uri(info: InstanceInfo, author: int) -> str:
    if author < LOCAL_MEMBERS:
        return info.actor_uri(f"m{author}")
    return f"https://{remote_domain(author)}/users/a{author}"


def community_uri(info: InstanceInfo, author: int) -> str:
    if author < LOCAL_MEMBERS:
        return info.community_uri
    return f"https://{remote_domain(author)}/users/community"


def seed_people(conn: Connection, info: InstanceInfo) -> None:
    """Local members (with ``users`` rows), remote members, the remote communities."""
    at = now_us()
    actors = []
    for author in range(AUTHORS):
        local = author < LOCAL_MEMBERS
        actors.append(
            {
                "id": ACTORS_BASE + author,
                "uri": author_uri(info, author),
                "type": "Person",
                "username": f"m{author}" if local else f"a{author}",
                "domain": info.domain if local else remote_domain(author),
                "local": local,
                "name": f"Member {author}",
                "published_at_us": at,
                "fetched_at_us": None if local else at,  # fresh: the inbox fetches nothing
            }
        )
    for number in range(1, REMOTE_COMMUNITIES + 1):
        uri = f"https://remote{number}.example/users/community"
        actors.append(
            {
                "id": GROUPS_BASE + number,
                "uri": uri,
                "type": "Group",
                "username": "community",
                "domain": f"remote{number}.example",
                "local": False,
                "name": f"Community {number}",
                "published_at_us": at,
                "fetched_at_us": at,
            }
        )
    conn.execute(insert(tables.actors), actors)
    users = [
        {"id": USERS_BASE + n, "actor_id": ACTORS_BASE + n, "username": f"m{n}", "created_at_us": 0}
        for n in range(LOCAL_MEMBERS)
    ]
    conn.execute(insert(tables.users), users)


def seed_listings(
    conn: Connection, info: InstanceInfo, currency: Currency, numbers: range, at_us: int
) -> None:
    """Listings ``numbers`` (and their posts), one executemany each."""
    rng = random.Random(numbers.start)
    posts, listings = [], []
    for n in numbers:
        draft = write_draft(rng)
        local = rng.random() < 0.1
        author = rng.randrange(LOCAL_MEMBERS) if local else rng.randrange(LOCAL_MEMBERS, AUTHORS)
        listing_id = id_for_time(START_MS + n)
        uri = f"{author_uri(info, author)}/statuses/{listing_id}"
        published = (START_MS + n) * 1000
        price: dict[str, Any] = {"price_text": None, "price_minor": None}
        if draft.price_minor is not None:
            code = currency.code if local else f"R{author % REMOTE_COMMUNITIES + 1:02d}"
            origin = info.base_url if local else f"https://{remote_domain(author)}"
            price = {
                "price_text": render_amount(draft.price_minor, currency),
                "price_minor": draft.price_minor if local else None,  # ours only
                "currency_code": code,
                "currency_uri": f"{origin}/currencies/{code}",
            }
        fate = rng.random()
        posts.append(
            {
                "id": listing_id,
                "uri": uri,
                "actor_id": ACTORS_BASE + author,
                "type": "Proposal" if local else "Note",
                "content": f"<p><strong>{draft.title}</strong></p><p>{draft.description}</p>",
                "summary": "",
                "url": uri,
                "visibility": "public",
                "local": local,
                "published_at_us": published,
                "document": DOCUMENT,
            }
        )
        listings.append(
            {
                "id": listing_id,
                "uri": uri,
                "author_id": ACTORS_BASE + author,
                "community_uri": community_uri(info, author),
                "local": local,
                "purpose": draft.purpose.value,
                "kind": draft.kind.value,
                "title": draft.title,
                "description": draft.description,
                "category": draft.category,
                "currency_code": None,
                "currency_uri": None,
                **price,
                "quantity": draft.quantity,
                "unit": draft.unit,
                "location": draft.location,
                # 5% expired, 20% expiring within a month, the rest open-ended.
                "expires_at_us": (
                    at_us - DAY_US if fate < 0.05 else at_us + 30 * DAY_US if fate < 0.25 else None
                ),
                "published_at_us": published,
                "withdrawn_at_us": published + DAY_US if fate >= 0.98 else None,
            }
        )
    conn.execute(insert(tables.posts), posts)
    conn.execute(insert(tables.listings), listings)


def count_listings(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tables.listings)).scalar_one())


def count_seeded(conn: Connection) -> int:
    """Listings of `seed_listings`, not those ingested (whose ids are of today)."""
    below = tables.listings.c.id < id_for_time(START_MS + 100_000_000)
    return int(conn.execute(select(func.count()).where(below)).scalar_one())


async def grow(runtime: Runtime, schema: str | None, numbers: range) -> float:
    """Add listings ``numbers`` in batches, then give the planner statistics; seconds."""
    started = time.perf_counter()
    currency = await runtime.db.read(get_currency)
    at = now_us()
    for start in range(numbers.start, numbers.stop, BATCH):
        batch = range(start, min(start + BATCH, numbers.stop))
        await runtime.db.exclusive(seed_listings, runtime.instance, currency, batch, at)
    if schema is None:
        await runtime.db.exclusive(lambda conn: conn.exec_driver_sql("ANALYZE"))
    else:
        await vacuum_analyze(runtime.settings.database_url, schema)
    return time.perf_counter() - started


async def vacuum_analyze(url: str, schema: str) -> None:
    """What autovacuum does once a bulk load settles (index-only scans need it)."""
    for table in ("actors", "posts", "listings"):
        await postgres_execute(url, f'VACUUM ANALYZE "{schema}".{table}')


# --- searching -------------------------------------------------------------------------

#: The mix: (kind of query, weight).
MIX = (
    ("one word", 25),
    ("two words", 10),
    ("prefix of 3", 10),
    ("category word", 10),
    ("word + purpose + kind", 10),
    ("word + price (ours)", 10),
    ("word + community", 10),
    ("category, no text", 5),
    ("word, second page", 10),
)


def pick_query(rng: random.Random, info: InstanceInfo) -> tuple[str, dict[str, str]]:
    """One query of the mix, as the query string of ``GET /api/exchange/v1/listings``."""
    label = rng.choices([label for label, _ in MIX], [weight for _, weight in MIX])[0]
    category = rng.choice(list(NOUNS))
    noun = rng.choice(NOUNS[category])
    if label == "two words":
        return label, {"q": f"{rng.choice(ADJECTIVES)} {noun}"}
    if label == "prefix of 3":
        return label, {"q": noun[:3]}
    if label == "category word":
        return label, {"q": category}
    if label == "word + purpose + kind":
        purpose = rng.choice(_PURPOSES).value
        return label, {"q": noun, "purpose": purpose, "kind": rng.choice(_KINDS).value}
    if label == "word + price (ours)":
        return label, {"q": noun, "kind": "sell", "max_price": str(rng.randrange(20, 150))}
    if label == "word + community":
        number = rng.randrange(REMOTE_COMMUNITIES + 1)
        community = f"community@remote{number}.example" if number else info.community_uri
        return label, {"q": noun, "community": community}
    if label == "category, no text":
        return label, {"category": category, "purpose": rng.choice(_PURPOSES).value}
    if label == "word, second page":
        return label, {"q": noun, "offset": "20"}
    return label, {"q": noun}


@dataclass(slots=True)
class Deadline:
    """When long SQLite statements start to fail (SQLite has no statement timeout)."""

    at: float = math.inf

    def passed(self) -> bool:
        return time.monotonic() > self.at


def guard_sqlite(conn: Connection, deadline: Deadline) -> None:
    """From now on a statement on ``conn``'s SQLite connection that runs past
    ``deadline`` fails ("interrupted"). The progress handler runs every 10,000 VM steps,
    so short statements (a rollback, a commit, marking an inbox item) are never stopped."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.set_progress_handler(deadline.passed, 10_000)


@contextlib.contextmanager
def statement_budget(conn: Connection, seconds: float) -> Iterator[None]:
    """Statements on ``conn`` that run longer than ``seconds`` fail: this bench's guard
    against queries whose cost grows faster than the table."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {round(seconds * 1000)}")
        yield
        return
    guard_sqlite(conn, Deadline(time.monotonic() + seconds))
    try:
        yield
    finally:
        guard_sqlite(conn, Deadline())


def stopped_by_budget(exc: DBAPIError) -> bool:
    """Whether ``statement_budget`` stopped the statement (and nothing else went wrong)."""
    if getattr(exc.orig, "sqlstate", None) == "57014":  # PostgreSQL: query_canceled
        return True
    return isinstance(exc.orig, sqlite3.OperationalError) and str(exc.orig) == "interrupted"


def search_within(
    conn: Connection, params: dict[str, str], at_us: int, seconds: float
) -> dict[str, Any]:
    with statement_budget(conn, seconds):
        return search_service(conn, params, at_us)


async def search_once(
    runtime: Runtime, params: dict[str, str], budget_seconds: float
) -> tuple[float, int | None]:
    """Seconds for one search through the service function, rendered, and the listings
    it found (None: stopped at the budget, so the seconds are a lower bound)."""
    started = time.perf_counter()
    try:
        page = await runtime.db.read(search_within, params, now_us(), budget_seconds)
    except DBAPIError as exc:
        if not stopped_by_budget(exc):
            raise
        return time.perf_counter() - started, None
    body = orjson.dumps(page)
    assert body
    return time.perf_counter() - started, len(page["listings"])


async def measure_search(runtime: Runtime, args: argparse.Namespace) -> list[tuple[str, ...]]:
    settle_collector()  # as a server once started (its full collections were our p99)
    rng = random.Random(7)
    for _ in range(20):  # warm the caches and the connection pool
        await search_once(runtime, pick_query(rng, runtime.instance)[1], args.query_seconds)
    by_label: dict[str, list[float]] = defaultdict(list)
    found: dict[str, list[int | None]] = defaultdict(list)
    deadline = time.perf_counter() + args.max_seconds
    while sum(map(len, by_label.values())) < args.samples and time.perf_counter() < deadline:
        label, params = pick_query(rng, runtime.instance)
        seconds, count = await search_once(runtime, params, args.query_seconds)
        by_label[label].append(seconds)
        found[label].append(count)
    everything = [seconds for label, _ in MIX for seconds in by_label[label]]
    stopped = sum(count is None for counts in found.values() for count in counts)
    aim = "aim p99 < 50 ms" + (f"; {stopped} stopped at the budget" if stopped else "")
    rows = [latency_row(f"search, all ({len(everything):,} queries)", everything, aim)]
    for label, _ in MIX:
        latencies, counts = by_label[label], [n for n in found[label] if n is not None]
        if not latencies:
            continue
        note = f"{statistics.mean(counts):.0f} shown on average" if counts else ""
        if len(counts) < len(latencies):
            note = f"{len(latencies) - len(counts)} of {len(latencies)} stopped at the budget"
        rows.append(latency_row(f"  {label}", latencies, note))
    return rows


def latency_row(label: str, latencies_seconds: list[float], note: str) -> tuple[str, ...]:
    p50, p99 = percentile_ms(latencies_seconds, 0.5), percentile_ms(latencies_seconds, 0.99)
    return label, f"p50 {p50:,.1f} ms, p99 {p99:,.1f} ms", note


# --- ingesting -------------------------------------------------------------------------


def create_proposal(sender: str, community: str, number: int, draft: Draft) -> tuple[str, bytes]:
    """A ``Create`` of a listing as another community's server sends it (FEP-0837):
    the activity's id and body."""
    uri = f"{sender}/statuses/ingest-{number}"
    origin = sender.split("/users/")[0]
    price = None
    if draft.price_minor is not None:
        price = Price(f"{draft.price_minor / 100:.2f}", "R01", f"{origin}/currencies/R01")
    published = render_iso(now_us())
    note = {
        "id": uri,
        "attributedTo": sender,
        "url": uri,
        "published": published,
        "to": [PUBLIC],
        "cc": [f"{sender}/followers"],
        "audience": community,
        **render_proposal_fields(
            uri, draft, price, f"{origin}/tags", f"{origin}/categories/{draft.category}"
        ),
    }
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{uri}/activity",
        "type": "Create",
        "actor": sender,
        "published": published,
        "to": [PUBLIC],
        "cc": [f"{sender}/followers"],
        "object": note,
    }
    return activity["id"], orjson.dumps(activity)


def count_inbox_items(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tables.inbox_items)).scalar_one())


def inbox_outcome(conn: Connection) -> tuple[int, int]:
    """(failed, still pending) inbox items."""
    i = tables.inbox_items
    failed = func.count().filter(i.c.error.is_not(None))
    pending = func.count().filter(i.c.processed_at_us.is_(None))
    row = conn.execute(select(failed, pending)).one()
    return int(row[0]), int(row[1])


def first_error(conn: Connection) -> str | None:
    i = tables.inbox_items
    error: str | None = conn.execute(
        select(i.c.error).where(i.c.error.is_not(None)).limit(1)
    ).scalar()
    return error


def drop_unprocessed(conn: Connection) -> None:
    """Items stopped at the deadline would be retried later: not in this bench."""
    i = tables.inbox_items
    conn.execute(delete(i).where(i.c.processed_at_us.is_(None)))


async def measure_ingest(runtime: Runtime, args: argparse.Namespace) -> tuple[str, ...]:
    """Store Proposals as inbox items (untimed), ``INGEST_CHUNK`` at a time, and time the
    worker step on them, until ``--ingest`` are done or ``--ingest-seconds`` have passed.

    On SQLite, a statement still running at that deadline is stopped (its item fails and
    is dropped): matching a listing there can take minutes (see the search figures)."""
    author = LOCAL_MEMBERS + 1
    first = await runtime.db.read(count_inbox_items)  # new activity ids, kept database or not
    sender = author_uri(runtime.instance, author)
    community = community_uri(runtime.instance, author)
    rng = random.Random(first)
    drafts = [write_draft(rng) for _ in range(args.ingest)]
    before = await runtime.db.read(count_listings)
    deadline = Deadline(time.monotonic() + args.ingest_seconds)
    guarded = runtime.db.dialect == "sqlite"
    if guarded:
        await runtime.db.exclusive(guard_sqlite, deadline)  # the writer's one connection
    elapsed, offered = 0.0, 0
    try:
        while offered < len(drafts) and not deadline.passed():
            chunk = range(offered, min(offered + INGEST_CHUNK, len(drafts)))
            items = [create_proposal(sender, community, first + n, drafts[n]) for n in chunk]
            await asyncio.gather(
                *(
                    runtime.db.write(inbox.store, runtime, uri, sender, None, body)
                    for uri, body in items
                )
            )
            started = time.perf_counter()
            while await inbox.process_pending(runtime):
                pass
            elapsed += time.perf_counter() - started
            offered += len(items)
    finally:
        out_of_time, deadline.at = guarded and deadline.passed(), math.inf
    stored = await runtime.db.read(count_listings) - before
    failed, pending = await runtime.db.read(inbox_outcome)
    if ((failed or pending) and not out_of_time) or stored + failed != offered:
        error = await runtime.db.read(first_error)
        raise RuntimeError(f"ingest: {stored} of {offered} stored; {failed} failed: {error}")
    await runtime.db.write(drop_unprocessed)
    label = f"ingested from the inbox ({stored:,} of {offered:,} items)"
    if not stored:
        return label, f"0 in {elapsed:,.0f} s", "none finished before the deadline"
    stopped = f"; {failed} stopped at the deadline" if failed else ""
    note = f"{elapsed / stored * 1e3:,.1f} ms each through inbox.process_pending{stopped}"
    return label, f"{stored / elapsed:,.1f}/s", note


# --- the run ---------------------------------------------------------------------------


async def measure_engine(
    args: argparse.Namespace, place: Path, url: str | None, schema: str | None
) -> None:
    spec = InstanceSpec("search", place / "search", free_port(), url, schema)
    fresh = not spec.data_dir.exists()
    if fresh:
        init_instance(spec)
    settings = Settings.load(data_dir=spec.data_dir, database_schema=schema, run_worker=False)
    dialect = "PostgreSQL" if url else "SQLite"
    async with standalone.runtime(settings) as runtime:
        if fresh:
            await runtime.db.exclusive(seed_people, runtime.instance)
        else:
            await migrations.upgrade(runtime.db)  # a kept database, as a server's
        seeded = await runtime.db.read(count_seeded)
        for size in sorted(args.sizes):
            if size < seeded:
                print(f"{dialect}: {size:,} listings skipped, {seeded:,} kept already")
                continue
            seconds = await grow(runtime, schema, range(seeded, size))
            loaded, seeded = size - seeded, size
            total = await runtime.db.read(count_listings)
            print(
                f"{dialect}: {total:,} listings; {loaded:,} loaded in {seconds:.0f} s"
                f" ({loaded / max(seconds, 1e-9):,.0f}/s, index triggers and statistics"
                " included)"
            )
            rows = await measure_search(runtime, args)
            if args.ingest:
                rows.append(await measure_ingest(runtime, args))
            print_table(f"{dialect}, {total:,} listings", rows)


async def run(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory("-bench")))
        if args.sqlite:
            await measure_engine(args, root / "sqlite", None, None)
        if not args.postgres:
            return
        try:
            await postgres_execute(args.postgres, "SELECT 1")
        except OSError as exc:
            print(f"PostgreSQL: not reachable at {args.postgres} ({exc}); skipped")
            return
        if args.keep:
            await postgres_execute(args.postgres, f"CREATE SCHEMA IF NOT EXISTS {KEPT_SCHEMA}")
            await measure_engine(args, root / "postgres", args.postgres, KEPT_SCHEMA)
            return
        async with postgres_schema(args.postgres, "search") as schema:
            await measure_engine(args, root / "postgres", args.postgres, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--samples", type=int, default=1_000, help="searches per size")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="of searching per size")
    parser.add_argument("--query-seconds", type=float, default=10.0, help="budget of a query")
    parser.add_argument("--ingest", type=int, default=2_000, help="inbox items per size; 0: none")
    parser.add_argument("--ingest-seconds", type=float, default=60.0, help="of ingest per size")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="'' to skip PostgreSQL")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--keep",
        type=Path,
        help=f"keep the databases (SQLite in this directory, PostgreSQL in schema"
        f" {KEPT_SCHEMA}) and reuse them on the next run with --keep",
    )
    args = parser.parse_args()
    run_async(lambda: run(args))


if __name__ == "__main__":
    main()
