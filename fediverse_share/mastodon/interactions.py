"""Favourites, reblogs and bookmarks by a member, and their undoing.

Favourites and reblogs federate: a ``Like`` goes to the post's author, an
``Announce`` to the member's followers and the author, and each is taken back
with an ``Undo`` of the same activity. Both are recorded where inbound ones are
(``interactions`` for likes, ``reblogs`` for announces), so counts and the
viewer's flags read the same tables whoever acted. Bookmarks stay local.
Each function is one database write and idempotent, as Mastodon's are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, delete, select

from fediverse_share import tables
from fediverse_share.clock import now_us, render_iso
from fediverse_share.federation import publish
from fediverse_share.federation.render import AS_CONTEXT, PUBLIC
from fediverse_share.mastodon import events
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.errors import ValidationFailed
from fediverse_share.mastodon.statuses import Viewer
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore


def _actor(conn: Connection, actor_id: int) -> RowMapping:
    return publish.local_actor(conn, actor_id)


def _author_uri(conn: Connection, post: RowMapping) -> str:
    a = tables.actors
    return str(conn.execute(select(a.c.uri).where(a.c.id == post["actor_id"])).scalar_one())


def _undo(actor: RowMapping, inner: dict[str, Any], to: list[str], cc: list[str]) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": f"{inner['id']}/undo",
        "type": "Undo",
        "actor": actor["uri"],
        "published": render_iso(now_us()),
        "to": to,
        "cc": cc,
        "object": inner,
    }


def favourite(conn: Connection, runtime: Runtime, viewer: Viewer, post: RowMapping) -> None:
    i = tables.interactions
    liked = conn.execute(
        select(i.c.id).where(
            i.c.actor_id == viewer.actor_id, i.c.object_uri == post["uri"], i.c.type == "Like"
        )
    ).first()
    if liked is not None:
        return
    actor = _actor(conn, viewer.actor_id)
    activity_uri = f"{actor['uri']}#likes/{runtime.ids.next_id()}"
    row = {
        "id": runtime.ids.next_id(),
        "type": "Like",
        "actor_id": viewer.actor_id,
        "object_uri": post["uri"],
        "activity_uri": activity_uri,
        "created_at_us": now_us(),
    }
    insert_or_ignore(conn, i, [row])
    events.interaction_stored(conn, runtime, "Like", viewer.actor_id, post["uri"], activity_uri)
    if not post["local"]:
        like = {
            "@context": AS_CONTEXT,
            "id": activity_uri,
            "type": "Like",
            "actor": actor["uri"],
            "object": post["uri"],
            "to": [_author_uri(conn, post)],
        }
        publish.record_activity(conn, runtime, actor, like, public=False)


def unfavourite(conn: Connection, runtime: Runtime, viewer: Viewer, post: RowMapping) -> None:
    i = tables.interactions
    rows = conn.execute(
        select(i.c.id, i.c.activity_uri).where(
            i.c.actor_id == viewer.actor_id, i.c.object_uri == post["uri"], i.c.type == "Like"
        )
    ).all()
    if not rows:
        return
    conn.execute(delete(i).where(i.c.id.in_([row.id for row in rows])))
    if post["local"]:
        return
    actor = _actor(conn, viewer.actor_id)
    author = _author_uri(conn, post)
    for row in rows:
        like = {
            "id": row.activity_uri,
            "type": "Like",
            "actor": actor["uri"],
            "object": post["uri"],
        }
        publish.record_activity(
            conn, runtime, actor, _undo(actor, like, [author], []), public=False
        )


def reblog(conn: Connection, runtime: Runtime, viewer: Viewer, post: RowMapping) -> int:
    """Announce a post; the reblog's status id (the existing one if already reblogged)."""
    if post["visibility"] not in ("public", "unlisted"):
        raise ValidationFailed("Reblog of a private or direct status is not allowed")
    r = mt.reblogs
    existing = conn.execute(
        select(r.c.id).where(r.c.actor_id == viewer.actor_id, r.c.post_id == post["id"])
    ).scalar()
    if existing is not None:
        return int(existing)
    actor = _actor(conn, viewer.actor_id)
    announce_uri = f"{actor['uri']}#announces/{runtime.ids.next_id()}"
    reblog_id = events.reblog_stored(conn, runtime, viewer.actor_id, post["uri"], announce_uri)
    assert reblog_id is not None
    announce = {
        "@context": AS_CONTEXT,
        "id": announce_uri,
        "type": "Announce",
        "actor": actor["uri"],
        "published": render_iso(now_us()),
        "to": [PUBLIC],
        "cc": [_author_uri(conn, post), actor["followers_url"]],
        "object": post["uri"],
    }
    publish.record_activity(conn, runtime, actor, announce, public=True)
    return reblog_id


def unreblog(conn: Connection, runtime: Runtime, viewer: Viewer, post: RowMapping) -> None:
    r = mt.reblogs
    uri = conn.execute(
        select(r.c.uri).where(r.c.actor_id == viewer.actor_id, r.c.post_id == post["id"])
    ).scalar()
    if uri is None:
        return
    events.activity_undone(conn, uri, viewer.actor_id)
    actor = _actor(conn, viewer.actor_id)
    announce = {"id": uri, "type": "Announce", "actor": actor["uri"], "object": post["uri"]}
    cc = [_author_uri(conn, post), actor["followers_url"]]
    publish.record_activity(conn, runtime, actor, _undo(actor, announce, [PUBLIC], cc), public=True)


def bookmark(conn: Connection, runtime: Runtime, viewer: Viewer, post: RowMapping) -> None:
    row = {
        "id": runtime.ids.next_id(),
        "user_id": viewer.user_id,
        "post_id": post["id"],
        "created_at_us": now_us(),
    }
    insert_or_ignore(conn, mt.bookmarks, [row])


def unbookmark(conn: Connection, runtime: Runtime, viewer: Viewer, post: RowMapping) -> None:
    b = mt.bookmarks
    conn.execute(delete(b).where(b.c.user_id == viewer.user_id, b.c.post_id == post["id"]))
