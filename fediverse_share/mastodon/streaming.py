"""Streaming: what a connection to ``/api/v1/streaming`` (WebSocket) or to
``/api/v1/streaming/<stream>`` (server-sent events) is sent.

Each connection keeps a `Cursor` (the newest home feed row, notification and
public post it has seen) and polls the database every `POLL_SECONDS` with a few
indexed range scans (``id > cursor``), so a post stored by any process (a web
worker, the delivery worker, another host on PostgreSQL) reaches every stream
without a message bus, and nothing lives in module state. Events are Mastodon's:
``{"stream": [...], "event": "update" | "notification", "payload": "<JSON>"}``.
Deletions and edits are not streamed yet (clients see them on their next fetch).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, func, select

from fediverse_share import tables
from fediverse_share.mastodon import notifications
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.pages import Page
from fediverse_share.mastodon.social_entities import render_notification
from fediverse_share.mastodon.status_entities import render_status
from fediverse_share.mastodon.statuses import Viewer, load_statuses
from fediverse_share.runtime import InstanceInfo

POLL_SECONDS = 0.5
#: How long a stream stays quiet before a heartbeat (SSE comment, WebSocket ping).
HEARTBEAT_SECONDS = 15.0
BATCH = 40
USER_STREAMS = frozenset({"user", "user:notification"})
PUBLIC_STREAMS = frozenset({"public", "public:local", "public:remote"})
TAG_STREAMS = frozenset({"hashtag", "hashtag:local"})
STREAMS = USER_STREAMS | PUBLIC_STREAMS | TAG_STREAMS


@dataclass(frozen=True, slots=True)
class Subscription:
    stream: str
    tag: str | None = None

    @property
    def names(self) -> list[str]:
        return [self.stream] if self.tag is None else [self.stream, self.tag]


@dataclass(frozen=True, slots=True)
class StreamEvent:
    stream: list[str]
    event: str
    payload: str

    def render(self) -> str:
        """The WebSocket message for this event."""
        message = {"stream": self.stream, "event": self.event, "payload": self.payload}
        return orjson.dumps(message).decode()


@dataclass(slots=True)
class Cursor:
    """What a connection has seen: ids only below these are old news."""

    home: int = 0
    notification: int = 0
    post: int = 0


def parse_subscription(stream: str | None, tag: str | None) -> Subscription | None:
    """A stream a client asks for, or None if there is no such stream (or no tag)."""
    if stream not in STREAMS:
        return None
    if stream in TAG_STREAMS:
        name = (tag or "").lstrip("#").lower()
        return Subscription(stream, name) if name else None
    return Subscription(stream)


def start(conn: Connection, viewer: Viewer | None) -> Cursor:
    """A cursor at the present: a stream sends what happens after it connects."""
    p, h, n = tables.posts, mt.home_feed, mt.notifications
    newest_post = conn.execute(select(func.max(p.c.id))).scalar() or 0
    if viewer is None:
        return Cursor(post=newest_post)
    home = conn.execute(select(func.max(h.c.status_id)).where(h.c.user_id == viewer.user_id))
    note = conn.execute(select(func.max(n.c.id)).where(n.c.user_id == viewer.user_id))
    return Cursor(home.scalar() or 0, note.scalar() or 0, newest_post)


def _updates(
    conn: Connection, ids: list[int], names: list[str], info: InstanceInfo, viewer: Viewer | None
) -> list[StreamEvent]:
    found = load_statuses(conn, ids, info, viewer)
    return [
        StreamEvent(names, "update", orjson.dumps(render_status(s, info.base_url)).decode())
        for s in found
    ]


def _home(conn: Connection, cursor: Cursor, viewer: Viewer) -> list[int]:
    h = mt.home_feed
    ids = list(
        conn.execute(
            select(h.c.status_id)
            .where(h.c.user_id == viewer.user_id, h.c.status_id > cursor.home)
            .order_by(h.c.status_id)
            .limit(BATCH)
        ).scalars()
    )
    cursor.home = max([cursor.home, *ids])
    return ids


def _notifications(
    conn: Connection, cursor: Cursor, viewer: Viewer, info: InstanceInfo, names: list[str]
) -> list[StreamEvent]:
    found, ids = notifications.list_notifications(
        conn, viewer, Page(min_id=cursor.notification, limit=BATCH), info
    )
    cursor.notification = max([cursor.notification, *ids])
    return [
        StreamEvent(
            names, "notification", orjson.dumps(render_notification(n, info.base_url)).decode()
        )
        for n in sorted(found, key=lambda n: n.notification_id)
    ]


def _public(conn: Connection, subscription: Subscription, since: int) -> list[int]:
    p, t = tables.posts, mt.post_tags
    query = select(p.c.id).where(
        p.c.id > since, p.c.visibility == "public", p.c.deleted_at_us.is_(None)
    )
    if subscription.stream.endswith(":local"):
        query = query.where(p.c.local.is_(True))
    if subscription.stream.endswith(":remote"):
        query = query.where(p.c.local.is_(False))
    if subscription.tag is not None:
        query = query.where(p.c.id.in_(select(t.c.post_id).where(t.c.name == subscription.tag)))
    return list(conn.execute(query.order_by(p.c.id).limit(BATCH)).scalars())


def poll(
    conn: Connection,
    subscriptions: list[Subscription],
    cursor: Cursor,
    info: InstanceInfo,
    viewer: Viewer | None,
) -> list[StreamEvent]:
    """Everything new for the connection's subscriptions since its cursor (oldest first)."""
    events: list[StreamEvent] = []
    since = cursor.post
    for subscription in subscriptions:
        names = subscription.names
        if subscription.stream in USER_STREAMS and viewer is not None:
            if subscription.stream == "user":
                events += _updates(conn, _home(conn, cursor, viewer), names, info, viewer)
            events += _notifications(conn, cursor, viewer, info, names)
        elif subscription.stream in PUBLIC_STREAMS | TAG_STREAMS:
            ids = _public(conn, subscription, since)
            cursor.post = max([cursor.post, *ids])
            events += _updates(conn, ids, names, info, viewer)
    return events
