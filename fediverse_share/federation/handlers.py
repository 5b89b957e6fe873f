"""What we do with each kind of inbound activity.

Every handler is idempotent: the inbox already dedupes by activity id, and each
effect is keyed too (a follow by its uri, a post by its uri), so processing an
item twice (a worker died after acting but before marking it done) is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete

from activitypub.objects import Activity, id_of, parse_activity, types_of
from fediverse_share import tables
from fediverse_share.clearing import peering
from fediverse_share.clock import now_us
from fediverse_share.federation import follows, posts, remote_actors
from fediverse_share.listings.wire import is_proposal
from fediverse_share.mastodon import events
from fediverse_share.runtime import Runtime
from fediverse_share.trades import inbox as trade_inbox
from fediverse_share.upserts import insert_or_ignore

log = logging.getLogger(__name__)

Handler = Callable[[Runtime, Activity, RowMapping], Awaitable[None]]


async def handle(runtime: Runtime, item: RowMapping) -> None:
    activity = parse_activity(orjson.loads(item["body"]))
    actor = await remote_actors.get_actor(runtime, activity.actor)
    if await peering.handle(runtime, activity, actor):
        return  # a peer community's link or posted rate
    if await trade_inbox.handle(runtime, activity, actor):
        return  # an Offer, its Accept or Reject, or a trade's event, receipt or review
    handler = _HANDLERS.get(activity.type)
    if handler is None:
        log.debug("ignoring %s %s", activity.type, activity.id)
        return
    await handler(runtime, activity, actor)


async def _follow(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    await runtime.db.write(_accept_follow, runtime, activity.raw, actor)


def _accept_follow(
    conn: Connection, runtime: Runtime, follow: Mapping[str, Any], follower: RowMapping
) -> None:
    follows.accept_follow(conn, runtime, follow, follower)
    events.follow_stored(conn, runtime, str(follow["id"]))


async def _accept(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    follow_uri = id_of(activity.object)
    if follow_uri:
        await runtime.db.write(follows.mark_accepted, follow_uri, actor["id"])


async def _reject(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    follow_uri = id_of(activity.object)
    if follow_uri:
        await runtime.db.write(follows.remove_follow, follow_uri, followed_id=actor["id"])


async def _undo(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    inner_uri = id_of(activity.object)
    if not inner_uri:
        return
    kinds = types_of(activity.object) if isinstance(activity.object, dict) else []
    if not kinds or "Follow" in kinds:
        await runtime.db.write(follows.remove_follow, inner_uri, follower_id=actor["id"])
    await runtime.db.write(_remove_interaction, inner_uri, actor["id"])


async def _create_or_update(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    if activity.type == "Update" and id_of(activity.object) == actor["uri"]:
        # A profile change or a key rotation: take the actor's own document again, and
        # its keys from it (a rotated-out key no longer verifies).
        await remote_actors.get_actor(runtime, actor["uri"], refresh=True)
        runtime.public_keys.discard_owner(actor["uri"])
        return
    obj = activity.object
    if not isinstance(obj, dict):
        obj = await posts.fetch_object(runtime, id_of(obj) or "")
    if {"Note", "Article", "Page"} & set(types_of(obj)) or is_proposal(obj):
        await runtime.db.write(_store_post, runtime, obj, actor)


def _store_post(
    conn: Connection, runtime: Runtime, obj: dict[str, Any], author: RowMapping
) -> None:
    """Store a remote post and tell the client API (feeds, tags, notifications)."""
    before = posts.find_post(conn, id_of(obj) or "")
    posts.store_remote_post(conn, runtime, obj, author)
    after = posts.find_post(conn, id_of(obj) or "")
    if after is not None and (before is None or before["document"] != after["document"]):
        events.post_stored(conn, runtime, after["id"], new=before is None)


async def _delete(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    target = id_of(activity.object)
    if target is None:
        return
    if target == actor["uri"]:
        await runtime.db.write(remote_actors.mark_gone, target)
        runtime.public_keys.discard_owner(target)  # its keys verify nothing more
    else:
        await runtime.db.write(_delete_post, target, actor["id"])


def _delete_post(conn: Connection, uri: str, author_id: int) -> None:
    post = posts.find_post(conn, uri)
    posts.mark_deleted(conn, uri, author_id)
    if post is not None and post["actor_id"] == author_id and post["deleted_at_us"] is None:
        events.post_deleted(conn, post["id"])


async def _announce(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    await _record_interaction(runtime, activity, actor)
    obj = activity.object
    if isinstance(obj, dict) and {"Create", "Update"} & set(types_of(obj)):
        # FEP-1b12 Announce(Create(x)): the inner activity is not signed by the
        # group's key, so x is fetched from its own origin rather than trusted.
        inner = parse_activity(obj)
        obj = inner.object
    uri = id_of(obj)
    if uri and await runtime.db.read(posts.find_post, uri) is None:
        fetched = await posts.fetch_object(runtime, uri)
        author = await remote_actors.get_actor(runtime, id_of(fetched.get("attributedTo")) or "")
        await runtime.db.write(_store_post, runtime, fetched, author)
    if uri:
        await runtime.db.write(events.reblog_stored, runtime, actor["id"], uri, activity.id)


async def _record_interaction(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    await runtime.db.write(_insert_interaction, runtime, activity, actor["id"])


def _insert_interaction(
    conn: Connection, runtime: Runtime, activity: Activity, actor_id: int
) -> None:
    object_uri = id_of(activity.object) or ""
    insert_or_ignore(
        conn,
        tables.interactions,
        [
            {
                "id": runtime.ids.next_id(),
                "type": activity.type,
                "actor_id": actor_id,
                "object_uri": object_uri,
                "activity_uri": activity.id,
                "created_at_us": now_us(),
            }
        ],
    )
    if activity.type == "Block":
        follows.remove_between(conn, actor_id, object_uri)
    events.interaction_stored(conn, runtime, activity.type, actor_id, object_uri, activity.id)


def _remove_interaction(conn: Connection, activity_uri: str, actor_id: int) -> None:
    i = tables.interactions
    conn.execute(delete(i).where(i.c.activity_uri == activity_uri, i.c.actor_id == actor_id))
    events.activity_undone(conn, activity_uri, actor_id)


_HANDLERS: dict[str, Handler] = {
    "Follow": _follow,
    "Accept": _accept,
    "Reject": _reject,
    "Undo": _undo,
    "Create": _create_or_update,
    "Update": _create_or_update,
    "Delete": _delete,
    "Announce": _announce,
    "Like": _record_interaction,
    "Block": _record_interaction,
}
