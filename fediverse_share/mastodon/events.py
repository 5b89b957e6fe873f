"""The seam between federation and the client API.

Federation code calls these inside the same database write that stores a post,
a reblog, a like or a follow (ours in `federation.publish` and
`federation.follows`, others' in `federation.handlers` and `federation.posts`),
so that home feeds, tag lists and notifications can never disagree with what
was stored. Each is idempotent, as the inbox handlers must be.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, delete, insert, select

from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.mastodon import feeds, notifications, stats
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.statuses import document_of, hashtags_of, mention_uris_of
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore

_REBLOGGABLE = ("public", "unlisted")


def _post(conn: Connection, **where: object) -> RowMapping | None:
    p = tables.posts
    clauses = [p.c[name] == value for name, value in where.items()]
    return conn.execute(select(p).where(*clauses)).mappings().first()


def _sync_tags(conn: Connection, post_id: int, names: list[str]) -> None:
    t = mt.post_tags
    conn.execute(delete(t).where(t.c.post_id == post_id))
    if names:
        conn.execute(insert(t), [{"name": name, "post_id": post_id} for name in names])


def notify_followers(conn: Connection, actor_id: int) -> set[int]:
    """Members who follow ``actor_id`` with ``notify`` on."""
    o, f = mt.follow_options, tables.follows
    actor_ids = conn.execute(
        select(o.c.follower_id)
        .select_from(
            o.join(f, (f.c.follower_id == o.c.follower_id) & (f.c.followed_id == o.c.followed_id))
        )
        .where(o.c.followed_id == actor_id, o.c.notify.is_(True), f.c.state == "accepted")
    ).scalars()
    return set(feeds.members_of_actors(conn, actor_ids).values())


def post_stored(conn: Connection, runtime: Runtime, post_id: int, *, new: bool) -> None:
    """A post was stored (``new``) or updated: tags, feeds, mentions, ``status`` alerts."""
    post = _post(conn, id=post_id)
    if post is None or post["deleted_at_us"] is not None:
        return
    doc = document_of(post)
    _sync_tags(conn, post_id, hashtags_of(doc))
    if not new:
        return
    stats.count_status(conn, post["actor_id"], 1, post["published_at_us"])
    a = tables.actors
    mentioned_actors = conn.execute(
        select(a.c.id).where(a.c.uri.in_(mention_uris_of(doc)), a.c.local.is_(True))
    ).scalars()
    mentioned = set(feeds.members_of_actors(conn, mentioned_actors).values())
    feeds.fan_out_post(conn, post_id, post["actor_id"], post["visibility"], mentioned)
    author = post["actor_id"]
    notifications.notify(
        conn, runtime.ids, mentioned, "mention",
        account_id=author, source_uri=post["uri"], status_id=post_id,
    )  # fmt: skip
    if post["visibility"] != "direct":
        notifications.notify(
            conn, runtime.ids, notify_followers(conn, author) - mentioned, "status",
            account_id=author, source_uri=post["uri"], status_id=post_id,
        )  # fmt: skip


def note_published(conn: Connection, runtime: Runtime, uri: str) -> None:
    """One of our posts (a note or a listing) was stored and sent."""
    post = _post(conn, uri=uri)
    if post is not None:
        post_stored(conn, runtime, post["id"], new=True)


def note_changed(conn: Connection, runtime: Runtime, uri: str) -> None:
    post = _post(conn, uri=uri)
    if post is not None:
        post_stored(conn, runtime, post["id"], new=False)


def post_deleted(conn: Connection, post_id: int) -> None:
    """A live post was deleted (call once, when it is marked)."""
    post = _post(conn, id=post_id)
    if post is not None:
        stats.count_status(conn, post["actor_id"], -1)
    feeds.remove_post(conn, post_id)


def reblog_stored(
    conn: Connection, runtime: Runtime, actor_id: int, post_uri: str, announce_uri: str
) -> int | None:
    """An actor announced a post: the reblog's status id, or None if nothing new."""
    post = _post(conn, uri=post_uri)
    if post is None or post["deleted_at_us"] is not None or post["visibility"] not in _REBLOGGABLE:
        return None
    reblog_id = runtime.ids.next_id()
    row = {
        "id": reblog_id,
        "actor_id": actor_id,
        "post_id": post["id"],
        "uri": announce_uri,
        "created_at_us": now_us(),
    }
    # Both of a Group's Announce forms (of the activity, of the object) land here:
    # the pair (actor, post) is unique, so the second changes nothing.
    if insert_or_ignore(conn, mt.reblogs, [row]) == 0:
        return None
    stats.count_status(conn, actor_id, 1)
    feeds.fan_out_reblog(conn, reblog_id, actor_id, post["id"], post["actor_id"])
    author = feeds.member_of_actor(conn, post["actor_id"])
    if author is not None:
        notifications.notify(
            conn, runtime.ids, [author], "reblog",
            account_id=actor_id, source_uri=announce_uri, status_id=post["id"],
        )  # fmt: skip
    notifications.notify(
        conn, runtime.ids, notify_followers(conn, actor_id), "status",
        account_id=actor_id, source_uri=announce_uri, status_id=reblog_id,
    )  # fmt: skip
    return reblog_id


def activity_undone(conn: Connection, activity_uri: str, actor_id: int) -> None:
    """An Undo of an Announce takes its reblog out of every feed."""
    r = mt.reblogs
    reblog_id = conn.execute(
        select(r.c.id).where(r.c.uri == activity_uri, r.c.actor_id == actor_id)
    ).scalar()
    if reblog_id is None:
        return
    feeds.remove_status(conn, reblog_id)
    stats.count_status(conn, actor_id, -1)
    n = mt.notifications
    conn.execute(delete(n).where(n.c.status_id == reblog_id))
    conn.execute(delete(r).where(r.c.id == reblog_id))


def interaction_stored(
    conn: Connection,
    runtime: Runtime,
    kind: str,
    actor_id: int,
    object_uri: str,
    activity_uri: str,
) -> None:
    """A Like of a member's post tells them (``favourite``)."""
    if kind != "Like":
        return
    post = _post(conn, uri=object_uri)
    author = feeds.member_of_actor(conn, post["actor_id"]) if post is not None else None
    if post is None or author is None:
        return
    notifications.notify(
        conn, runtime.ids, [author], "favourite",
        account_id=actor_id, source_uri=activity_uri, status_id=post["id"],
    )  # fmt: skip


def follow_stored(conn: Connection, runtime: Runtime, follow_uri: str) -> None:
    """Someone follows a member (``follow``) or asks to (``follow_request``)."""
    f = tables.follows
    row = conn.execute(select(f).where(f.c.uri == follow_uri)).mappings().first()
    member = feeds.member_of_actor(conn, row["followed_id"]) if row is not None else None
    if row is None or member is None:
        return
    kind = "follow" if row["state"] == "accepted" else "follow_request"
    notifications.notify(
        conn, runtime.ids, [member], kind, account_id=row["follower_id"], source_uri=follow_uri
    )
