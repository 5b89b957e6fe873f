"""What a URL or a handle names, fetched on demand: an actor, a post, an actor's listings.

Used by Mastodon's search with ``resolve`` and by the exchange API's listing lookup.
Everything is fetched signed by our instance actor and bound by the address policy
(`fediverse_share.federation.fetching`); an object is stored only as its origin serves
it, attributed to an actor on that origin (`posts.store_remote_post`).

An actor's listings are read from its outbox: the first page, at most
`OUTBOX_ITEMS` activities, and each object a ``Create``, ``Update`` or ``Announce``
there names is fetched from where it lives, so what is stored is its present state (a
withdrawn listing answers ``410``/a ``Tombstone`` and is left out). A community's
outbox announces its members' listings, so its handle brings those.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import Connection, RowMapping, or_, select

from activitypub.errors import ActivityPubError
from activitypub.fetch import Fetcher
from activitypub.objects import id_of, types_of
from fediverse_share import tables
from fediverse_share.errors import AppError
from fediverse_share.federation import actions, posts, remote_actors
from fediverse_share.federation.fetching import fetcher_for
from fediverse_share.mastodon import events
from fediverse_share.runtime import Runtime

POST_TYPES = frozenset({"Note", "Article", "Page", "Question", "Event", "Proposal"})
ACTOR_TYPES = frozenset({"Person", "Group", "Service", "Organization", "Application"})
#: Activities read from an actor's outbox, and objects fetched at once, per lookup.
OUTBOX_ITEMS = 20
_AT_ONCE = 4
_NAMING_ACTIVITIES = frozenset({"Create", "Update", "Announce"})


def post_by_url(conn: Connection, url: str) -> RowMapping | None:
    p = tables.posts
    return conn.execute(select(p).where(or_(p.c.uri == url, p.c.url == url))).mappings().first()


def actor_by_url(conn: Connection, url: str) -> RowMapping | None:
    a = tables.actors
    return conn.execute(select(a).where(or_(a.c.uri == url, a.c.url == url))).mappings().first()


def _store_fetched(
    conn: Connection, runtime: Runtime, obj: dict[str, object], author: RowMapping
) -> int | None:
    before = posts.find_post(conn, id_of(obj) or "")
    posts.store_remote_post(conn, runtime, dict(obj), author)
    after = posts.find_post(conn, id_of(obj) or "")
    if after is not None and before is None:
        events.post_stored(conn, runtime, after["id"], new=True)
    return None if after is None else int(after["id"])


async def _store_post(runtime: Runtime, document: dict[str, Any]) -> int | None:
    author = await remote_actors.get_actor(runtime, id_of(document.get("attributedTo")) or "")
    return await runtime.db.write(_store_fetched, runtime, document, author)


async def resolve_url(runtime: Runtime, url: str) -> tuple[int | None, int | None]:
    """(actor id, post id) of what a URL names, fetched if we do not have it."""
    post = await runtime.db.read(post_by_url, url)
    if post is not None:
        return None, post["id"]
    actor = await runtime.db.read(actor_by_url, url)
    if actor is not None:
        return actor["id"], None
    # A member pastes what a browser shows, which is often a status's ``url`` (its
    # page) rather than its id: follow the document to its id, as Mastodon does, and
    # take it only as served there.
    document = await (await fetcher_for(runtime)).fetch_json(url, id_is_known=False)
    kinds = set(types_of(document))
    if kinds & ACTOR_TYPES:
        row = await remote_actors.get_actor(runtime, id_of(document) or url)
        return row["id"], None
    if kinds & POST_TYPES:
        return None, await _store_post(runtime, document)
    return None, None


def _named_objects(page: dict[str, Any]) -> list[str]:
    items = page.get("orderedItems", page.get("items"))
    named: list[str] = []
    for activity in items[:OUTBOX_ITEMS] if isinstance(items, list) else []:
        if isinstance(activity, dict) and set(types_of(activity)) & _NAMING_ACTIVITIES:
            uri = id_of(activity.get("object"))
            if uri and uri not in named:
                named.append(uri)
    return named


async def _outbox_objects(fetcher: Fetcher, outbox_url: str) -> list[str]:
    """The objects the first page of an outbox names, newest first."""
    outbox = await fetcher.fetch_json(outbox_url)
    first = outbox.get("first")
    if isinstance(first, dict) and id_of(first) is None:
        return _named_objects(first)
    page_url = id_of(first)
    return _named_objects(await fetcher.fetch_json(page_url)) if page_url else []


async def posts_of_actor(runtime: Runtime, actor: RowMapping) -> list[int]:
    """Fetch and store the posts an actor's outbox names now; their post ids, newest first.

    An object that cannot be fetched, is gone or is refused (another origin's, malformed)
    is left out; the others are kept."""
    if actor["local"] or not actor["outbox"]:
        return []
    fetcher = await fetcher_for(runtime)
    uris = await _outbox_objects(fetcher, actor["outbox"])
    gate = asyncio.Semaphore(_AT_ONCE)

    async def one(uri: str) -> int | None:
        async with gate:
            with contextlib.suppress(ActivityPubError, AppError):
                document = await fetcher.fetch_json(uri)
                if set(types_of(document)) & POST_TYPES:
                    return await _store_post(runtime, document)
            return None

    found = await asyncio.gather(*(one(uri) for uri in uris))
    return [post_id for post_id in found if post_id is not None]


async def posts_named_by(runtime: Runtime, handle_or_url: str) -> list[int]:
    """The posts a handle or URL names: an actor's (from its outbox) or the one post."""
    target = handle_or_url.strip()
    if target.startswith(("https://", "http://")):
        actor_id, post_id = await resolve_url(runtime, target)
        if post_id is not None:
            return [post_id]
        if actor_id is None:
            return []
        actor = await runtime.db.read(_actor_by_id, actor_id)
    else:
        actor = await actions.resolve(runtime, target)
    return await posts_of_actor(runtime, actor)


def _actor_by_id(conn: Connection, actor_id: int) -> RowMapping:
    a = tables.actors
    return conn.execute(select(a).where(a.c.id == actor_id)).mappings().one()
