"""What our local actors publish: notes, follows and their undoing.

Each action is one database write that stores the object and its activity and
queues the deliveries, so nothing is announced that was not stored and nothing
stored is left undelivered (the queue survives restarts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, insert, select, update

from fediverse_share import tables
from fediverse_share.clock import now_us, render_iso
from fediverse_share.errors import Forbidden, NotFound
from fediverse_share.federation import audiences, delivery
from fediverse_share.federation.actor_fields import actor_attachment
from fediverse_share.federation.render import AS_CONTEXT, PUBLIC, render_actor
from fediverse_share.mastodon import events
from fediverse_share.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Published:
    post_id: int
    uri: str
    activity_uri: str


def _dumps(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()


def record_activity(
    conn: Connection,
    runtime: Runtime,
    actor: RowMapping,
    doc: dict[str, Any],
    *,
    public: bool,
    also_to: Iterable[str] = (),
) -> None:
    """Store one of our activities (for the outbox) and queue it to its audience."""
    at = now_us()
    body = _dumps(doc)
    inner = doc.get("object")
    object_uri = inner.get("id") if isinstance(inner, dict) else inner
    conn.execute(
        insert(tables.activities).values(
            id=runtime.ids.next_id(),
            uri=doc["id"],
            actor_id=actor["id"],
            type=doc["type"],
            object_uri=object_uri,
            public=public,
            local=True,
            published_at_us=at,
            document=body,
        )
    )
    inboxes = audiences.inboxes_for(conn, actor, doc) | set(also_to)
    delivery.enqueue(
        conn,
        runtime,
        activity_uri=doc["id"],
        signer_id=actor["id"],
        body=body,
        inboxes=inboxes,
        at_us=at,
    )


def local_actor(conn: Connection, actor_id: int) -> RowMapping:
    row = conn.execute(select(tables.actors).where(tables.actors.c.id == actor_id)).mappings().one()
    return row


def note_document(
    runtime: Runtime,
    actor: RowMapping,
    post_id: int,
    content: str,
    visibility: str,
    at_us: int,
    in_reply_to: str | None,
) -> dict[str, Any]:
    uri = f"{actor['uri']}/statuses/{post_id}"
    to, cc = audiences.addressing(actor, visibility, runtime.instance.community_uri)
    doc: dict[str, Any] = {
        "id": uri,
        "type": "Note",
        "attributedTo": actor["uri"],
        "content": content,
        "url": f"{runtime.instance.base_url}/@{actor['username']}/{post_id}",
        "published": render_iso(at_us),
        "to": to,
        "cc": cc,
        "inReplyTo": in_reply_to,
        "sensitive": False,
    }
    if actor["type"] == "Person":
        doc["audience"] = runtime.instance.community_uri
    return doc


def publish_note(
    conn: Connection,
    runtime: Runtime,
    actor_id: int,
    content_html: str,
    *,
    visibility: str = "public",
    in_reply_to: str | None = None,
    summary: str = "",
    mentions: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> Published:
    """Store a Note by a local actor and send ``Create`` to its audience.

    ``mentions`` (actor uris) are addressed too (``cc``, or ``to`` when direct);
    ``extra`` adds fields to the Note (``tag``, ``attachment``, ``sensitive``…).
    """
    actor = local_actor(conn, actor_id)
    at = now_us()
    post_id = runtime.ids.next_id()
    note = note_document(runtime, actor, post_id, content_html, visibility, at, in_reply_to)
    note["to" if visibility == "direct" else "cc"] += [m for m in mentions if m != actor["uri"]]
    note.update(extra or {})
    if summary:
        note["summary"] = summary
    conn.execute(
        insert(tables.posts).values(
            id=post_id,
            uri=note["id"],
            actor_id=actor_id,
            type="Note",
            content=content_html,
            summary=summary,
            url=note["url"],
            in_reply_to_uri=in_reply_to,
            visibility=visibility,
            local=True,
            published_at_us=at,
            document=_dumps(note),
        )
    )
    create = send_created(conn, runtime, actor, note, at)
    return Published(post_id, note["id"], create["id"])


def _via_community(actor: RowMapping, note: dict[str, Any]) -> bool:
    """A member's public post goes out through the community Group too."""
    return actor["type"] == "Person" and PUBLIC in note.get("to", [])


def send_created(
    conn: Connection, runtime: Runtime, actor: RowMapping, note: dict[str, Any], at_us: int
) -> dict[str, Any]:
    """Send ``Create(note)``; the community announces it both ways."""
    create = _wrap("Create", note, actor["uri"], at_us)
    record_activity(conn, runtime, actor, create, public=PUBLIC in note.get("to", []))
    # Feeds first: the community's reblog then skips members who already see the post.
    events.note_published(conn, runtime, note["id"])
    if _via_community(actor, note):
        announce_to_community(conn, runtime, create, forms=("activity", "object"))
    return create


def _send_change(
    conn: Connection,
    runtime: Runtime,
    actor: RowMapping,
    activity: dict[str, Any],
    note: dict[str, Any],
) -> None:
    """Send an Update or Delete of a post to everyone who may hold it.

    Those who follow only the community got the post through its Announce: the
    author's own signed activity goes to them as well (Mastodon applies an Update
    or Delete from the post's author whoever it follows), and the Group announces
    the activity for group-aware peers.
    """
    via_community = _via_community(actor, note)
    community_followers: set[str] = set()
    if via_community:
        group = _community(conn, runtime)
        community_followers = audiences.follower_inboxes(conn, group["id"])
    public = PUBLIC in note.get("to", []) or PUBLIC in note.get("cc", [])
    record_activity(conn, runtime, actor, activity, public=public, also_to=community_followers)
    if via_community:
        announce_to_community(conn, runtime, activity, forms=("activity",))


def send_updated(
    conn: Connection, runtime: Runtime, actor: RowMapping, note: dict[str, Any], at_us: int
) -> None:
    _send_change(conn, runtime, actor, _wrap("Update", note, actor["uri"], at_us), note)
    events.note_changed(conn, runtime, note["id"])


def _wrap(kind: str, obj: dict[str, Any], actor_uri: str, at_us: int) -> dict[str, Any]:
    return {
        "@context": AS_CONTEXT,
        "id": f"{obj['id']}/{kind.lower()}/{at_us}",
        "type": kind,
        "actor": actor_uri,
        "published": render_iso(at_us),
        "to": obj.get("to", [PUBLIC]),
        "cc": obj.get("cc", []),
        "object": {k: v for k, v in obj.items() if k != "@context"},
    }


def _community(conn: Connection, runtime: Runtime) -> RowMapping:
    a = tables.actors
    row = conn.execute(select(a).where(a.c.uri == runtime.instance.community_uri)).mappings()
    return row.one()


def announce_to_community(
    conn: Connection, runtime: Runtime, activity: dict[str, Any], *, forms: tuple[str, ...]
) -> None:
    """FEP-1b12: the community Group announces a member's public activity.

    Mastodon drops an Announce whose object is an activity, so for new posts the
    Group sends both ``Announce(activity)`` for group-aware peers and
    ``Announce(object)`` (``forms`` names which: ``activity``, ``object``).
    """
    group = _community(conn, runtime)
    at = now_us()
    inner = activity["object"]
    for suffix in forms:
        obj = activity if suffix == "activity" else inner["id"]
        announce = {
            "@context": AS_CONTEXT,
            "id": f"{group['uri']}/announces/{runtime.ids.next_id()}-{suffix}",
            "type": "Announce",
            "actor": group["uri"],
            "published": render_iso(at),
            "to": [PUBLIC],
            "cc": [group["followers_url"]],
            "object": obj,
        }
        record_activity(conn, runtime, group, announce, public=True)
        if suffix == "object":
            # Members who follow the community see the post as the Group's reblog.
            events.reblog_stored(conn, runtime, group["id"], inner["id"], announce["id"])


def update_note(
    conn: Connection, runtime: Runtime, actor_id: int, post_id: int, content_html: str
) -> None:
    post = _own_post(conn, actor_id, post_id)
    actor = local_actor(conn, actor_id)
    at = now_us()
    note = orjson.loads(post["document"])
    note.update(content=content_html, updated=render_iso(at))
    conn.execute(
        update(tables.posts)
        .where(tables.posts.c.id == post_id)
        .values(content=content_html, updated_at_us=at, document=_dumps(note))
    )
    send_updated(conn, runtime, actor, note, at)


def delete_note(conn: Connection, runtime: Runtime, actor_id: int, post_id: int) -> None:
    post = _own_post(conn, actor_id, post_id)
    actor = local_actor(conn, actor_id)
    at = now_us()
    note = orjson.loads(post["document"])
    conn.execute(update(tables.posts).where(tables.posts.c.id == post_id).values(deleted_at_us=at))
    events.post_deleted(conn, post_id)
    tombstone = {
        "id": post["uri"],
        "type": "Tombstone",
        "to": note.get("to", []),
        "cc": note.get("cc", []),
    }
    _send_change(conn, runtime, actor, _wrap("Delete", tombstone, actor["uri"], at), note)


def _own_post(conn: Connection, actor_id: int, post_id: int) -> RowMapping:
    post = (
        conn.execute(
            select(tables.posts).where(
                tables.posts.c.id == post_id,
                tables.posts.c.local.is_(True),
                tables.posts.c.deleted_at_us.is_(None),
            )
        )
        .mappings()
        .first()
    )
    if post is None:
        raise NotFound("no such post")
    if post["actor_id"] != actor_id:
        raise Forbidden("only its author may change a post")
    return post


def update_profile(
    conn: Connection, runtime: Runtime, actor_id: int, *, name: str, summary: str
) -> None:
    """Change a local actor's display name and bio, and send ``Update`` of the actor."""
    a = tables.actors
    conn.execute(update(a).where(a.c.id == actor_id).values(name=name, summary=summary))
    actor = local_actor(conn, actor_id)
    at = now_us()
    attachment = actor_attachment(conn, actor, at)  # Mastodon replaces fields on Update
    document = render_actor(actor, runtime.instance, attachment=attachment)
    activity = {
        "@context": document["@context"],
        "id": f"{actor['uri']}#updates/{at}",
        "type": "Update",
        "actor": actor["uri"],
        "published": render_iso(at),
        "to": [PUBLIC],
        "cc": [actor["followers_url"]],
        "object": {k: v for k, v in document.items() if k != "@context"},
    }
    record_activity(conn, runtime, actor, activity, public=True)
