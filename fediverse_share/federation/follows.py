"""Follow relations: asking, accepting, undoing, in both directions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, or_, select, update

from fediverse_share import tables
from fediverse_share.clock import now_us, render_iso
from fediverse_share.errors import BadRequest, NotFound
from fediverse_share.federation import publish
from fediverse_share.federation.render import AS_CONTEXT
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore


def _local_by_uri(conn: Connection, uri: str) -> RowMapping | None:
    a = tables.actors
    return conn.execute(select(a).where(a.c.uri == uri, a.c.local.is_(True))).mappings().first()


def accept_follow(
    conn: Connection, runtime: Runtime, follow: Mapping[str, Any], follower: RowMapping
) -> None:
    """A remote actor follows one of ours: record it and answer Accept (or Reject)."""
    target_uri = follow.get("object")
    target = _local_by_uri(conn, target_uri) if isinstance(target_uri, str) else None
    if target is None or target["type"] == "Application":
        return
    state = "pending" if target["manually_approves_followers"] else "accepted"
    insert_or_ignore(
        conn,
        tables.follows,
        [
            {
                "id": runtime.ids.next_id(),
                "follower_id": follower["id"],
                "followed_id": target["id"],
                "uri": follow["id"],
                "state": state,
                "created_at_us": now_us(),
            }
        ],
    )
    if state == "accepted":
        _answer(conn, runtime, target, follower, follow, "Accept")


def _answer(
    conn: Connection,
    runtime: Runtime,
    target: RowMapping,
    follower: RowMapping,
    follow: Mapping[str, Any],
    kind: str,
) -> None:
    answer = {
        "@context": AS_CONTEXT,
        "id": f"{target['uri']}#{kind.lower()}s/{runtime.ids.next_id()}",
        "type": kind,
        "actor": target["uri"],
        "to": [follower["uri"]],
        "published": render_iso(now_us()),
        "object": {k: v for k, v in follow.items() if k != "@context"},
    }
    publish.record_activity(conn, runtime, target, answer, public=False)


def mark_accepted(conn: Connection, follow_uri: str, followed_id: int) -> None:
    f = tables.follows
    conn.execute(
        update(f)
        .where(f.c.uri == follow_uri, f.c.followed_id == followed_id)
        .values(state="accepted")
    )


def remove_follow(
    conn: Connection,
    follow_uri: str,
    *,
    follower_id: int | None = None,
    followed_id: int | None = None,
) -> None:
    f = tables.follows
    where = [f.c.uri == follow_uri]
    if follower_id is not None:
        where.append(f.c.follower_id == follower_id)
    if followed_id is not None:
        where.append(f.c.followed_id == followed_id)
    conn.execute(delete(f).where(*where))


def answer_request(
    conn: Connection, runtime: Runtime, follower_id: int, target_id: int, *, accept: bool
) -> str:
    """A local account accepts or rejects a pending follow; returns the follow's uri."""
    f, a = tables.follows, tables.actors
    row = (
        conn.execute(
            select(f).where(
                f.c.follower_id == follower_id, f.c.followed_id == target_id, f.c.state == "pending"
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("no such follow request")
    target = conn.execute(select(a).where(a.c.id == target_id)).mappings().one()
    follower = conn.execute(select(a).where(a.c.id == follower_id)).mappings().one()
    if accept:
        conn.execute(update(f).where(f.c.id == row["id"]).values(state="accepted"))
    else:
        conn.execute(delete(f).where(f.c.id == row["id"]))
    if not follower["local"]:
        follow = {
            "id": row["uri"],
            "type": "Follow",
            "actor": follower["uri"],
            "object": target["uri"],
        }
        _answer(conn, runtime, target, follower, follow, "Accept" if accept else "Reject")
    return str(row["uri"])


def remove_between(conn: Connection, actor_id: int, other_uri: str) -> None:
    """A Block ends follows both ways between the two actors."""
    other = conn.execute(
        select(tables.actors.c.id).where(tables.actors.c.uri == other_uri)
    ).scalar()
    if other is None:
        return
    f = tables.follows
    conn.execute(
        delete(f).where(
            or_(
                (f.c.follower_id == actor_id) & (f.c.followed_id == other),
                (f.c.follower_id == other) & (f.c.followed_id == actor_id),
            )
        )
    )


def follow(conn: Connection, runtime: Runtime, follower_id: int, target: RowMapping) -> str:
    """One of ours follows ``target``: store a pending follow and send Follow."""
    follower = (
        conn.execute(select(tables.actors).where(tables.actors.c.id == follower_id))
        .mappings()
        .one()
    )
    if target["id"] == follower_id:
        raise BadRequest("an actor cannot follow itself")
    f = tables.follows
    existing = conn.execute(
        select(f.c.uri).where(f.c.follower_id == follower_id, f.c.followed_id == target["id"])
    ).scalar()
    if existing is not None:
        return str(existing)
    uri = f"{follower['uri']}#follows/{runtime.ids.next_id()}"
    # A local account that approves its followers (a closed community) is asked too.
    accepted = target["local"] and not target["manually_approves_followers"]
    state = "accepted" if accepted else "pending"
    conn.execute(
        f.insert().values(
            id=runtime.ids.next_id(),
            follower_id=follower_id,
            followed_id=target["id"],
            uri=uri,
            state=state,
            created_at_us=now_us(),
        )
    )
    if not target["local"]:
        doc = {
            "@context": AS_CONTEXT,
            "id": uri,
            "type": "Follow",
            "actor": follower["uri"],
            "object": target["uri"],
            "to": [target["uri"]],
        }
        publish.record_activity(conn, runtime, follower, doc, public=False)
    return uri


def unfollow(conn: Connection, runtime: Runtime, follower_id: int, target: RowMapping) -> None:
    """Undo one of our follows (and tell the remote side)."""
    f = tables.follows
    uri = conn.execute(
        select(f.c.uri).where(f.c.follower_id == follower_id, f.c.followed_id == target["id"])
    ).scalar()
    if uri is None:
        raise NotFound("not following")
    conn.execute(delete(f).where(f.c.uri == uri))
    if target["local"]:
        return
    follower = (
        conn.execute(select(tables.actors).where(tables.actors.c.id == follower_id))
        .mappings()
        .one()
    )
    undo = {
        "@context": AS_CONTEXT,
        "id": f"{uri}/undo",
        "type": "Undo",
        "actor": follower["uri"],
        "to": [target["uri"]],
        "object": {"id": uri, "type": "Follow", "actor": follower["uri"], "object": target["uri"]},
    }
    publish.record_activity(conn, runtime, follower, undo, public=False)
