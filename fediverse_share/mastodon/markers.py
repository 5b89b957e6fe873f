"""Markers: where a member stopped reading their home timeline and notifications.

Each save bumps ``version`` (clients compare it to detect concurrent saves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select

from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest
from fediverse_share.mastodon import tables as mt
from fediverse_share.upserts import insert_or_ignore

TIMELINES = ("home", "notifications")


@dataclass(frozen=True, slots=True)
class Marker:
    timeline: str
    last_read_id: str
    version: int
    updated_at_us: int


def load(conn: Connection, user_id: int, timelines: Sequence[str]) -> list[Marker]:
    m = mt.markers
    wanted = [t for t in timelines if t in TIMELINES] or list(TIMELINES)
    rows = conn.execute(select(m).where(m.c.user_id == user_id, m.c.timeline.in_(wanted)))
    return [Marker(r.timeline, r.last_read_id, r.version, r.updated_at_us) for r in rows]


def parse_updates(params: Mapping[str, Any]) -> dict[str, str]:
    """``{timeline: last_read_id}`` from JSON (``{"home": {...}}``) or Rails form keys
    (``home[last_read_id]=…``)."""
    updates: dict[str, str] = {}
    for timeline in TIMELINES:
        nested = params.get(timeline)
        value = nested.get("last_read_id") if isinstance(nested, dict) else None
        value = value if value is not None else params.get(f"{timeline}[last_read_id]")
        if value is None:
            continue
        text = str(value).strip()
        if not text.isdigit() or len(text) > 20:
            raise BadRequest("last_read_id must be an id", code="invalid_parameter")
        updates[timeline] = text
    if not updates:
        raise BadRequest("give home[last_read_id] or notifications[last_read_id]")
    return updates


def save(conn: Connection, user_id: int, updates: dict[str, str]) -> list[Marker]:
    m = mt.markers
    at = now_us()
    for timeline, last_read_id in updates.items():
        version = conn.execute(
            select(m.c.version).where(m.c.user_id == user_id, m.c.timeline == timeline)
        ).scalar()
        conn.execute(delete(m).where(m.c.user_id == user_id, m.c.timeline == timeline))
        row = {
            "user_id": user_id,
            "timeline": timeline,
            "last_read_id": last_read_id,
            "version": (version or 0) + 1,
            "updated_at_us": at,
        }
        insert_or_ignore(conn, m, [row])
    return load(conn, user_id, list(updates))
