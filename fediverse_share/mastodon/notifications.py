"""Notifications: written where their cause is stored, read by the client API.

Each is keyed by what caused it (``source_uri``: a Follow's, Like's or Announce's
id, or a post's uri) together with its type, so handling an activity twice never
notifies twice. Types are Mastodon's own and no others: ``follow``,
``follow_request``, ``mention``, ``reblog``, ``favourite`` and ``status``.
Members are never notified of their own actions. A listing that matches one of a
member's is a ``status`` notification by its author (`listings.matching`); a step
the other party takes in a trade is a ``mention`` by the community, whose direct
message says what happened (`trades.notices`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, delete, select

from fediverse_share.clock import now_us
from fediverse_share.errors import NotFound
from fediverse_share.ids import IdGenerator
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.accounts import AccountFacts, load_accounts
from fediverse_share.mastodon.pages import Page
from fediverse_share.mastodon.statuses import Status, Viewer, load_statuses
from fediverse_share.runtime import InstanceInfo
from fediverse_share.upserts import insert_or_ignore

TYPES = frozenset({"follow", "follow_request", "mention", "reblog", "favourite", "status"})


@dataclass(frozen=True, slots=True)
class NotificationFacts:
    notification_id: int
    type: str
    created_at_us: int
    account: AccountFacts
    status: Status | None


def notify(
    conn: Connection,
    ids: IdGenerator,
    user_ids: Iterable[int],
    kind: str,
    *,
    account_id: int,
    source_uri: str,
    status_id: int | None = None,
) -> None:
    """Tell each member in ``user_ids`` (once per cause), except the one who acted."""
    assert kind in TYPES, kind
    from fediverse_share.mastodon.feeds import member_of_actor

    actor_member = member_of_actor(conn, account_id)
    at = now_us()
    rows = [
        {
            "id": ids.next_id(),
            "user_id": user_id,
            "type": kind,
            "account_id": account_id,
            "status_id": status_id,
            "source_uri": source_uri,
            "created_at_us": at,
        }
        for user_id in set(user_ids)
        if user_id != actor_member
    ]
    insert_or_ignore(conn, mt.notifications, rows)


def _filtered(
    conn: Connection,
    user_id: int,
    page: Page,
    types: Sequence[str],
    exclude_types: Sequence[str],
) -> list[RowMapping]:
    n = mt.notifications
    query = select(n).where(n.c.user_id == user_id)
    if types:
        query = query.where(n.c.type.in_(types))
    if exclude_types:
        query = query.where(n.c.type.not_in(exclude_types))
    rows = list(conn.execute(page.apply(query, n.c.id)).mappings())
    return sorted(rows, key=lambda row: row["id"], reverse=True)


def _facts(
    conn: Connection, rows: list[RowMapping], info: InstanceInfo, viewer: Viewer
) -> list[NotificationFacts]:
    accounts = load_accounts(conn, (row["account_id"] for row in rows), info)
    status_ids = [row["status_id"] for row in rows if row["status_id"] is not None]
    statuses = {s.status_id: s for s in load_statuses(conn, status_ids, info, viewer)}
    out = []
    for row in rows:
        account = accounts.get(row["account_id"])
        status = statuses.get(row["status_id"]) if row["status_id"] is not None else None
        # A notification about a status that is gone is dropped, as Mastodon does.
        if account is None or (row["status_id"] is not None and status is None):
            continue
        out.append(NotificationFacts(row["id"], row["type"], row["created_at_us"], account, status))
    return out


def list_notifications(
    conn: Connection,
    viewer: Viewer,
    page: Page,
    info: InstanceInfo,
    *,
    types: Sequence[str] = (),
    exclude_types: Sequence[str] = (),
) -> tuple[list[NotificationFacts], list[int]]:
    """A page of the member's notifications, and the ids the page covers (for ``Link``)."""
    rows = _filtered(conn, viewer.user_id, page, types, exclude_types)
    return _facts(conn, rows, info, viewer), [row["id"] for row in rows]


def get_notification(
    conn: Connection, viewer: Viewer, notification_id: int, info: InstanceInfo
) -> NotificationFacts:
    n = mt.notifications
    rows = list(
        conn.execute(
            select(n).where(n.c.id == notification_id, n.c.user_id == viewer.user_id)
        ).mappings()
    )
    found = _facts(conn, rows, info, viewer)
    if not found:
        raise NotFound("Record not found")
    return found[0]


def dismiss(conn: Connection, user_id: int, notification_id: int) -> None:
    n = mt.notifications
    done = conn.execute(delete(n).where(n.c.id == notification_id, n.c.user_id == user_id))
    if done.rowcount == 0:
        raise NotFound("Record not found")


def clear(conn: Connection, user_id: int) -> None:
    conn.execute(delete(mt.notifications).where(mt.notifications.c.user_id == user_id))
