"""Who an activity is for: addressing when we write it, inboxes when we send it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, func, select

from fediverse_share import tables
from fediverse_share.federation.render import PUBLIC


def addressing(
    actor: RowMapping, visibility: str, community_uri: str
) -> tuple[list[str], list[str]]:
    """``to`` and ``cc`` for a post by ``actor`` with a Mastodon visibility."""
    followers = actor["followers_url"]
    also = [community_uri] if actor["type"] == "Person" else []
    if visibility == "public":
        return [PUBLIC], [followers, *also]
    if visibility == "unlisted":
        return [followers, *also], [PUBLIC]
    if visibility == "private":
        return [followers], []
    return [], []


def _recipients(doc: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for field in ("to", "cc", "bto", "bcc", "audience"):
        value = doc.get(field)
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    inner = doc.get("object")
    if isinstance(inner, dict) and doc.get("type") in ("Create", "Update", "Delete"):
        found |= _recipients(inner)
    return found


def inboxes_for(conn: Connection, actor: RowMapping, doc: dict[str, Any]) -> set[str]:
    """The remote inboxes an activity by a local actor goes to (shared ones preferred)."""
    recipients = _recipients(doc) - {PUBLIC}
    inboxes: set[str] = set()
    if actor["followers_url"] in recipients:
        inboxes |= follower_inboxes(conn, actor["id"])
        recipients.discard(actor["followers_url"])
    if recipients:
        a = tables.actors
        rows = conn.execute(
            select(func.coalesce(a.c.shared_inbox, a.c.inbox)).where(
                a.c.uri.in_(recipients), a.c.local.is_(False), a.c.inbox.is_not(None)
            )
        )
        inboxes.update(rows.scalars())
    return inboxes


def follower_inboxes(conn: Connection, actor_id: int) -> set[str]:
    a, f = tables.actors, tables.follows
    rows = conn.execute(
        select(func.coalesce(a.c.shared_inbox, a.c.inbox))
        .distinct()
        .select_from(f.join(a, a.c.id == f.c.follower_id))
        .where(
            f.c.followed_id == actor_id,
            f.c.state == "accepted",
            a.c.local.is_(False),
            a.c.gone.is_(False),
        )
    )
    return {inbox for inbox in rows.scalars() if inbox}
