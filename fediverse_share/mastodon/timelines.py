"""Which statuses a timeline holds, as pages of status ids (newest first).

Home is read from the fan-out table (`feeds.home_ids`); the public, local and tag
timelines and an account's statuses are read from ``posts``, ``post_tags`` and
``reblogs`` by their indexed ids. What a viewer may see is decided here:
public and unlisted posts for anyone, followers-only posts for the author and
accepted followers, direct posts for the author and those they mention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, or_, select

from fediverse_share import tables
from fediverse_share.errors import NotFound
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.pages import Page
from fediverse_share.mastodon.statuses import Viewer, document_of, mention_uris_of

MAX_ANCESTORS = 40
MAX_DESCENDANTS = 80


@dataclass(frozen=True, slots=True)
class AccountFilter:
    exclude_replies: bool = False
    exclude_reblogs: bool = False
    only_media: bool = False
    pinned: bool = False
    tagged: str | None = None


def _live() -> ColumnElement[bool]:
    return tables.posts.c.deleted_at_us.is_(None)


def public_ids(conn: Connection, page: Page, *, local: bool | None) -> list[int]:
    p = tables.posts
    query = select(p.c.id).where(_live(), p.c.visibility == "public")
    if local is not None:
        query = query.where(p.c.local.is_(local))
    return page.newest_first(list(conn.execute(page.apply(query, p.c.id)).scalars()))


def tag_ids(conn: Connection, name: str, page: Page, *, local: bool | None) -> list[int]:
    p, t = tables.posts, mt.post_tags
    query = (
        select(t.c.post_id)
        .select_from(t.join(p, p.c.id == t.c.post_id))
        .where(t.c.name == name.lower().lstrip("#"), _live(), p.c.visibility == "public")
    )
    if local is not None:
        query = query.where(p.c.local.is_(local))
    return page.newest_first(list(conn.execute(page.apply(query, t.c.post_id)).scalars()))


def _follows(conn: Connection, viewer: Viewer, author_id: int) -> bool:
    f = tables.follows
    return (
        conn.execute(
            select(f.c.id).where(
                f.c.follower_id == viewer.actor_id,
                f.c.followed_id == author_id,
                f.c.state == "accepted",
            )
        ).first()
        is not None
    )


def _visible_to(conn: Connection, viewer: Viewer | None, author_id: int) -> ColumnElement[bool]:
    """Which of one author's posts ``viewer`` may list (direct ones are never listed)."""
    p = tables.posts
    shown = ["public", "unlisted"]
    if viewer is not None and (viewer.actor_id == author_id or _follows(conn, viewer, author_id)):
        shown.append("private")
    return p.c.visibility.in_(shown)


def account_ids(
    conn: Connection, author_id: int, viewer: Viewer | None, page: Page, how: AccountFilter
) -> list[int]:
    """An account's statuses: its posts, and its reblogs (a community's posts)."""
    if how.pinned:
        return []  # pinning is not offered: nothing is pinned
    p, r = tables.posts, mt.reblogs
    query = select(p.c.id).where(
        p.c.actor_id == author_id, _live(), _visible_to(conn, viewer, author_id)
    )
    if how.exclude_replies:
        query = query.where(p.c.in_reply_to_uri.is_(None))
    if how.only_media:
        m = mt.media_attachments
        query = query.where(
            or_(p.c.id.in_(select(m.c.post_id)), p.c.document.contains('"attachment"'))
        )
    if how.tagged:
        t = mt.post_tags
        query = query.where(p.c.id.in_(select(t.c.post_id).where(t.c.name == how.tagged.lower())))
    ids = list(conn.execute(page.apply(query, p.c.id)).scalars())
    if not (how.exclude_reblogs or how.only_media or how.tagged):
        reblogs = select(r.c.id).where(r.c.actor_id == author_id)
        ids += list(conn.execute(page.apply(reblogs, r.c.id)).scalars())
    ids.sort(reverse=not page.ascending)
    return page.newest_first(ids[: page.limit])


def can_see(conn: Connection, post: RowMapping, viewer: Viewer | None) -> bool:
    if post["deleted_at_us"] is not None:
        return False
    if post["visibility"] in ("public", "unlisted"):
        return True
    if viewer is None:
        return False
    if post["actor_id"] == viewer.actor_id:
        return True
    me = conn.execute(select(tables.actors.c.uri).where(tables.actors.c.id == viewer.actor_id))
    doc = document_of(post)
    addressed = {*_as_list(doc.get("to")), *_as_list(doc.get("cc")), *mention_uris_of(doc)}
    if me.scalar() in addressed:
        return True
    return post["visibility"] == "private" and _follows(conn, viewer, post["actor_id"])


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def find_post(conn: Connection, post_id: int) -> RowMapping | None:
    p = tables.posts
    return conn.execute(select(p).where(p.c.id == post_id)).mappings().first()


def visible_post(conn: Connection, status_id: int, viewer: Viewer | None) -> RowMapping:
    """The post behind a status id (a reblog's original too), if the viewer may see it."""
    post = find_post(conn, status_id)
    if post is None:
        r = mt.reblogs
        original = conn.execute(select(r.c.post_id).where(r.c.id == status_id)).scalar()
        post = find_post(conn, original) if original is not None else None
    if post is None or not can_see(conn, post, viewer):
        raise NotFound("Record not found")
    return post


def context_ids(
    conn: Connection, post: RowMapping, viewer: Viewer | None
) -> tuple[list[int], list[int]]:
    """Ancestors (oldest first) and descendants (in thread order) the viewer may see."""
    p = tables.posts
    ancestors: list[int] = []
    parent_uri = post["in_reply_to_uri"]
    while parent_uri and len(ancestors) < MAX_ANCESTORS:
        parent = conn.execute(select(p).where(p.c.uri == parent_uri)).mappings().first()
        if parent is None or not can_see(conn, parent, viewer):
            break
        ancestors.insert(0, parent["id"])
        parent_uri = parent["in_reply_to_uri"]
    descendants: list[int] = []
    frontier = [post["uri"]]
    while frontier and len(descendants) < MAX_DESCENDANTS:
        children = (
            conn.execute(
                select(p).where(p.c.in_reply_to_uri.in_(frontier), _live()).order_by(p.c.id)
            )
            .mappings()
            .all()
        )
        visible = [c for c in children if can_see(conn, c, viewer)]
        descendants += [c["id"] for c in visible]
        frontier = [c["uri"] for c in visible]
    return ancestors, descendants[:MAX_DESCENDANTS]


def favourite_ids(conn: Connection, viewer: Viewer, page: Page) -> tuple[list[int], list[int]]:
    """The member's favourites: (status ids, interaction ids for paging)."""
    i, p = tables.interactions, tables.posts
    query = (
        select(i.c.id, p.c.id)
        .select_from(i.join(p, p.c.uri == i.c.object_uri))
        .where(i.c.actor_id == viewer.actor_id, i.c.type == "Like", _live())
    )
    rows = sorted(conn.execute(page.apply(query, i.c.id)).all(), reverse=True)
    return [row[1] for row in rows], [row[0] for row in rows]


def bookmark_ids(conn: Connection, viewer: Viewer, page: Page) -> tuple[list[int], list[int]]:
    b = mt.bookmarks
    query = select(b.c.id, b.c.post_id).where(b.c.user_id == viewer.user_id)
    rows = sorted(conn.execute(page.apply(query, b.c.id)).all(), reverse=True)
    return [row[1] for row in rows], [row[0] for row in rows]


def favourited_by(conn: Connection, post: RowMapping, page: Page) -> list[tuple[int, int]]:
    """(interaction id, actor id) of those who favourited the post, newest first."""
    i = tables.interactions
    query = select(i.c.id, i.c.actor_id).where(i.c.object_uri == post["uri"], i.c.type == "Like")
    return sorted(((r[0], r[1]) for r in conn.execute(page.apply(query, i.c.id))), reverse=True)


def reblogged_by(conn: Connection, post: RowMapping, page: Page) -> list[tuple[int, int]]:
    """(reblog id, actor id) of those who reblogged the post, newest first."""
    r = mt.reblogs
    query = select(r.c.id, r.c.actor_id).where(r.c.post_id == post["id"])
    return sorted(((x[0], x[1]) for x in conn.execute(page.apply(query, r.c.id))), reverse=True)
