"""Relationships between a member and other accounts: reading them, following
(with ``reblogs`` and ``notify``), unfollowing, and answering follow requests.

Every field of Mastodon's Relationship is filled (the iOS app's decoder needs
all of them); blocks, mutes, endorsements and notes do not exist here yet and
read as false or empty.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, delete, select

from fediverse_share import tables
from fediverse_share.errors import NotFound
from fediverse_share.federation import follows
from fediverse_share.mastodon import events, feeds
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.pages import Page
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore


@dataclass(frozen=True, slots=True)
class RelationshipFacts:
    account_id: int
    following: bool
    requested: bool
    showing_reblogs: bool
    notifying: bool
    followed_by: bool
    requested_by: bool
    blocked_by: bool


def get_actor(conn: Connection, actor_id: int) -> RowMapping:
    a = tables.actors
    row = conn.execute(select(a).where(a.c.id == actor_id)).mappings().first()
    if row is None or row["type"] == "Application":
        raise NotFound("Record not found")
    return row


def load(conn: Connection, actor_id: int, others: Sequence[int]) -> list[RelationshipFacts]:
    """The viewer's relationship with each of ``others``, in that order."""
    a, f, o, i = tables.actors, tables.follows, mt.follow_options, tables.interactions
    known = set(conn.execute(select(a.c.id).where(a.c.id.in_(others))).scalars())
    others = [other for other in others if other in known]
    if not others:
        return []
    outgoing = {
        row.followed_id: row.state
        for row in conn.execute(
            select(f.c.followed_id, f.c.state).where(
                f.c.follower_id == actor_id, f.c.followed_id.in_(others)
            )
        )
    }
    incoming = {
        row.follower_id: row.state
        for row in conn.execute(
            select(f.c.follower_id, f.c.state).where(
                f.c.followed_id == actor_id, f.c.follower_id.in_(others)
            )
        )
    }
    options = {
        row.followed_id: (row.reblogs, row.notify)
        for row in conn.execute(
            select(o.c.followed_id, o.c.reblogs, o.c.notify).where(
                o.c.follower_id == actor_id, o.c.followed_id.in_(others)
            )
        )
    }
    me = conn.execute(select(tables.actors.c.uri).where(tables.actors.c.id == actor_id)).scalar()
    blockers = set(
        conn.execute(
            select(i.c.actor_id).where(
                i.c.type == "Block", i.c.object_uri == me, i.c.actor_id.in_(others)
            )
        ).scalars()
    )
    out = []
    for other in others:
        state = outgoing.get(other)
        reblogs, notify = options.get(other, (True, False))
        out.append(
            RelationshipFacts(
                account_id=other,
                following=state == "accepted",
                requested=state == "pending",
                showing_reblogs=state is not None and bool(reblogs),
                notifying=state is not None and bool(notify),
                followed_by=incoming.get(other) == "accepted",
                requested_by=incoming.get(other) == "pending",
                blocked_by=other in blockers,
            )
        )
    return out


def _set_options(
    conn: Connection, actor_id: int, target_id: int, reblogs: bool | None, notify: bool | None
) -> None:
    o = mt.follow_options
    current = conn.execute(
        select(o.c.reblogs, o.c.notify).where(
            o.c.follower_id == actor_id, o.c.followed_id == target_id
        )
    ).first()
    values = {
        "reblogs": current.reblogs if current and reblogs is None else reblogs,
        "notify": current.notify if current and notify is None else notify,
    }
    values = {"reblogs": values["reblogs"] is not False, "notify": values["notify"] is True}
    conn.execute(delete(o).where(o.c.follower_id == actor_id, o.c.followed_id == target_id))
    insert_or_ignore(conn, o, [{"follower_id": actor_id, "followed_id": target_id, **values}])


def follow(
    conn: Connection,
    runtime: Runtime,
    actor_id: int,
    user_id: int,
    target_id: int,
    *,
    reblogs: bool | None = None,
    notify: bool | None = None,
) -> RelationshipFacts:
    """Follow (or change the options of a follow); a local follow fills the feed at once."""
    target = get_actor(conn, target_id)
    f = tables.follows
    existed = conn.execute(
        select(f.c.id).where(f.c.follower_id == actor_id, f.c.followed_id == target_id)
    ).first()
    uri = follows.follow(conn, runtime, actor_id, target)
    _set_options(conn, actor_id, target_id, reblogs, notify)
    if existed is None:
        events.follow_stored(conn, runtime, uri)
        state = conn.execute(select(f.c.state).where(f.c.uri == uri)).scalar()
        if state == "accepted":
            feeds.backfill(conn, user_id, target_id)
    return load(conn, actor_id, [target_id])[0]


def unfollow(
    conn: Connection, runtime: Runtime, actor_id: int, user_id: int, target_id: int
) -> RelationshipFacts:
    """Stop following (a no-op if not following, as in Mastodon)."""
    target = get_actor(conn, target_id)
    with contextlib.suppress(NotFound):
        follows.unfollow(conn, runtime, actor_id, target)
    o = mt.follow_options
    conn.execute(delete(o).where(o.c.follower_id == actor_id, o.c.followed_id == target_id))
    feeds.remove_account(conn, user_id, target_id)
    return load(conn, actor_id, [target_id])[0]


def managed_actor_ids(conn: Connection, actor_id: int, is_admin: bool) -> list[int]:
    """Whose follow requests a member answers: their own, and an admin the community's."""
    if not is_admin:
        return [actor_id]
    a = tables.actors
    group_ids = conn.execute(
        select(a.c.id).where(a.c.local.is_(True), a.c.type == "Group")
    ).scalars()
    return [actor_id, *group_ids]


def request_ids(conn: Connection, managed: Sequence[int], page: Page) -> list[tuple[int, int]]:
    """Pending follows of the managed accounts: (follow row id, follower actor id)."""
    f = tables.follows
    query = select(f.c.id, f.c.follower_id).where(
        f.c.followed_id.in_(managed), f.c.state == "pending"
    )
    rows = conn.execute(page.apply(query, f.c.id)).all()
    return sorted(((r.id, r.follower_id) for r in rows), reverse=True)


def answer(
    conn: Connection,
    runtime: Runtime,
    managed: Sequence[int],
    follower_id: int,
    *,
    accept: bool,
) -> RelationshipFacts:
    """Authorize or reject the follower's pending request to one of the managed accounts."""
    f = tables.follows
    target = conn.execute(
        select(f.c.followed_id).where(
            f.c.follower_id == follower_id, f.c.followed_id.in_(managed), f.c.state == "pending"
        )
    ).scalar()
    if target is None:
        raise NotFound("Record not found")
    uri = follows.answer_request(conn, runtime, follower_id, target, accept=accept)
    if accept:
        events.follow_stored(conn, runtime, uri)
    # Seen from the account that was asked (the member, or the community).
    return load(conn, target, [follower_id])[0]


def page_of_follows(
    conn: Connection, actor_id: int, page: Page, *, followers: bool
) -> list[tuple[int, int]]:
    """(follow row id, other actor id) of accepted follows, newest first."""
    f = tables.follows
    mine, other = (
        (f.c.followed_id, f.c.follower_id) if followers else (f.c.follower_id, f.c.followed_id)
    )
    query = select(f.c.id, other).where(mine == actor_id, f.c.state == "accepted")
    rows = conn.execute(page.apply(query, f.c.id)).all()
    return sorted(((r[0], r[1]) for r in rows), reverse=True)
