"""Each account's count of statuses and its latest post's time, kept on write.

Counting an author's posts on every page of a timeline costs a scan of all of
them (7.5 ms of a 12 ms page at a million statuses on PostgreSQL, bench/timeline.py),
so the counts are kept as Mastodon keeps them: a row per actor, moved by one in
the same write that stores, deletes, announces or un-announces. The row is made
with the first status (insert-or-ignore, then the update), so two first posts
written at once cannot lose a count.
"""

from __future__ import annotations

from sqlalchemy import Connection, case, update

from fediverse_share.mastodon import tables as mt
from fediverse_share.upserts import insert_or_ignore


def count_status(conn: Connection, actor_id: int, delta: int, at_us: int | None = None) -> None:
    """Move the actor's count by ``delta``; ``at_us`` is a new post's time."""
    s = mt.account_stats
    insert_or_ignore(
        conn, s, [{"actor_id": actor_id, "statuses_count": 0, "last_status_at_us": None}]
    )
    values: dict[str, object] = {"statuses_count": s.c.statuses_count + delta}
    if at_us is not None:
        later = s.c.last_status_at_us.is_(None) | (s.c.last_status_at_us < at_us)
        values["last_status_at_us"] = case((later, at_us), else_=s.c.last_status_at_us)
    conn.execute(update(s).where(s.c.actor_id == actor_id).values(**values))
