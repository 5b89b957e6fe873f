"""Home timelines, filled on write (fan-out) and read by one index range scan.

When a post or a reblog is stored (ours in `federation.publish`, others' in the
inbox handlers) a row ``(user_id, status_id, post_id)`` goes into ``home_feed``
for every local member who should see it: the author's local followers, the
author, and, for direct and followers-only posts, the local members it mentions.
Reading a page is then ``WHERE user_id = ? AND status_id < ? ORDER BY status_id
DESC LIMIT 40`` on the primary key, whatever the size of the database; the page's
statuses are hydrated by `statuses.load_statuses` in a fixed number of queries.

Reblogs are not added for members who turned them off for that follow
(``follow_options.reblogs``), for the author of the original, or for members
whose feed already shows the post (a community boosting a post its members
already saw from its author), as Mastodon's feed manager does.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, func, or_, select

from fediverse_share import tables
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.pages import Page
from fediverse_share.upserts import insert_or_ignore

#: How many of an account's latest statuses a new local follow brings into the feed.
BACKFILL = 20


def member_of_actor(conn: Connection, actor_id: int) -> int | None:
    """The member (user id) whose actor this is, if it is a local member."""
    u = tables.users
    user_id: int | None = conn.execute(select(u.c.id).where(u.c.actor_id == actor_id)).scalar()
    return user_id


def members_of_actors(conn: Connection, actor_ids: Iterable[int]) -> dict[int, int]:
    wanted = set(actor_ids)
    if not wanted:
        return {}
    u = tables.users
    rows = conn.execute(select(u.c.actor_id, u.c.id).where(u.c.actor_id.in_(wanted)))
    return {row.actor_id: row.id for row in rows}


def follower_members(conn: Connection, actor_id: int, *, reblogs_only: bool = False) -> set[int]:
    """Members whose follow of ``actor_id`` is accepted (and who show its reblogs)."""
    f, u, o = tables.follows, tables.users, mt.follow_options
    query = (
        select(u.c.id)
        .select_from(f.join(u, u.c.actor_id == f.c.follower_id))
        .where(f.c.followed_id == actor_id, f.c.state == "accepted")
    )
    if reblogs_only:
        query = query.outerjoin(
            o, (o.c.follower_id == f.c.follower_id) & (o.c.followed_id == f.c.followed_id)
        ).where(func.coalesce(o.c.reblogs, True).is_(True))
    return set(conn.execute(query).scalars())


def add(conn: Connection, user_ids: Iterable[int], status_id: int, post_id: int) -> None:
    rows = [{"user_id": u, "status_id": status_id, "post_id": post_id} for u in set(user_ids)]
    insert_or_ignore(conn, mt.home_feed, rows)


def fan_out_post(
    conn: Connection,
    post_id: int,
    author_id: int,
    visibility: str,
    mentioned_members: Iterable[int],
) -> None:
    recipients = set(mentioned_members) if visibility in ("direct", "private") else set()
    if visibility != "direct":
        recipients |= follower_members(conn, author_id)
    author = member_of_actor(conn, author_id)
    if author is not None:
        recipients.add(author)
    add(conn, recipients, post_id, post_id)


def fan_out_reblog(
    conn: Connection, reblog_id: int, booster_id: int, post_id: int, author_id: int
) -> None:
    recipients = follower_members(conn, booster_id, reblogs_only=True)
    booster = member_of_actor(conn, booster_id)
    if booster is not None:
        recipients.add(booster)
    author = member_of_actor(conn, author_id)
    if author is not None:
        recipients.discard(author)
    if not recipients:
        return
    h = mt.home_feed
    seen = conn.execute(
        select(h.c.user_id).where(h.c.post_id == post_id, h.c.user_id.in_(recipients))
    ).scalars()
    add(conn, recipients - set(seen), reblog_id, post_id)


def remove_status(conn: Connection, status_id: int) -> None:
    conn.execute(delete(mt.home_feed).where(mt.home_feed.c.status_id == status_id))


def remove_post(conn: Connection, post_id: int) -> None:
    """A deleted post leaves every feed, with every reblog of it."""
    conn.execute(delete(mt.home_feed).where(mt.home_feed.c.post_id == post_id))


def backfill(conn: Connection, user_id: int, actor_id: int) -> None:
    """A new follow brings the account's latest statuses into the member's feed."""
    p, r = tables.posts, mt.reblogs
    posts = (
        select(p.c.id, p.c.id)
        .where(
            p.c.actor_id == actor_id,
            p.c.deleted_at_us.is_(None),
            p.c.visibility.in_(("public", "unlisted", "private")),
        )
        .order_by(p.c.id.desc())
        .limit(BACKFILL)
    )
    reblogs = (
        select(r.c.id, r.c.post_id)
        .where(r.c.actor_id == actor_id)
        .order_by(r.c.id.desc())
        .limit(BACKFILL)
    )
    rows = [*conn.execute(posts).all(), *conn.execute(reblogs).all()]
    rows.sort(key=lambda row: int(row[0]), reverse=True)
    insert_or_ignore(
        conn,
        mt.home_feed,
        [{"user_id": user_id, "status_id": r[0], "post_id": r[1]} for r in rows[:BACKFILL]],
    )


def remove_account(conn: Connection, user_id: int, actor_id: int) -> None:
    """An unfollow takes the account's posts and reblogs out of the member's feed."""
    p, r, h = tables.posts, mt.reblogs, mt.home_feed
    conn.execute(
        delete(h).where(
            h.c.user_id == user_id,
            or_(
                h.c.status_id.in_(select(p.c.id).where(p.c.actor_id == actor_id)),
                h.c.status_id.in_(select(r.c.id).where(r.c.actor_id == actor_id)),
            ),
        )
    )


_H = mt.home_feed
#: The usual pages (the newest, or older than ``max_id``), built once: building a
#: query costs more than the index range scan it runs (bench/timeline.py).
_NEWEST = (
    select(_H.c.status_id)
    .where(_H.c.user_id == bindparam("user"))
    .order_by(_H.c.status_id.desc())
    .limit(bindparam("limit"))
)
_OLDER = _NEWEST.where(_H.c.status_id < bindparam("max_id"))


def home_ids(conn: Connection, user_id: int, page: Page) -> list[int]:
    """One page of the member's home timeline: status ids, newest first."""
    if page.since_id is None and page.min_id is None:
        query = _NEWEST if page.max_id is None else _OLDER
        params = {"user": user_id, "limit": page.limit, "max_id": page.max_id}
        return list(conn.execute(query, params).scalars())
    h = mt.home_feed
    query = page.apply(select(h.c.status_id).where(h.c.user_id == user_id), h.c.status_id)
    return page.newest_first(list(conn.execute(query).scalars()))
