"""What an Account entity shows, loaded from the ``actors`` table in one round trip."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    ScalarSelect,
    bindparam,
    func,
    select,
    text,
)

from fediverse_share import members, tables
from fediverse_share.errors import NotFound
from fediverse_share.mastodon import tables as mastodon_tables
from fediverse_share.runtime import InstanceInfo

_BOT_TYPES = frozenset({"Application", "Service"})
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AccountCounts:
    statuses: int = 0
    followers: int = 0
    following: int = 0
    follow_requests: int = 0
    last_status_at_us: int | None = None


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """An actor as the client API presents it (local or remote)."""

    actor_id: int
    username: str
    acct: str
    uri: str
    url: str
    display_name: str
    note_html: str
    avatar_url: str
    header_url: str
    locked: bool
    bot: bool
    group: bool
    discoverable: bool
    created_at_us: int
    counts: AccountCounts

    @property
    def note_text(self) -> str:
        """The note as plain text (the ``source.note`` a profile editor starts from)."""
        return html_to_text(self.note_html)


def html_to_text(value: str) -> str:
    """Text of a short HTML fragment: breaks and paragraphs become newlines."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", value))).strip()


def account_facts(row: RowMapping, info: InstanceInfo, counts: AccountCounts) -> AccountFacts:
    """An actor row as an account; the actor's ``summary`` is HTML, as in ActivityStreams."""
    local = bool(row["local"])
    return AccountFacts(
        actor_id=row["id"],
        username=row["username"],
        # Local accounts are bare `name` and remote ones `name@domain`, as clients expect.
        acct=row["username"] if local else f"{row['username']}@{row['domain']}",
        uri=row["uri"],
        url=row["url"] or row["uri"],
        display_name=row["name"] or "",
        note_html=row["summary"] or "",
        avatar_url=row["icon_url"] or info.avatar_url,
        header_url=info.header_url,
        locked=bool(row["manually_approves_followers"]),
        bot=row["type"] in _BOT_TYPES,
        group=row["type"] == "Group",
        discoverable=bool(row["discoverable"]),
        created_at_us=row["published_at_us"] or row["fetched_at_us"] or 0,
        counts=counts,
    )


def load_counts(conn: Connection, actor_id: int) -> AccountCounts:
    f, st = tables.follows, mastodon_tables.account_stats

    def follows(column: ColumnElement[Any], state: str) -> ScalarSelect[Any]:
        return (
            select(func.count())
            .select_from(f)
            .where(column == actor_id, f.c.state == state)
            .scalar_subquery()
        )

    row = conn.execute(
        select(
            select(st.c.statuses_count).where(st.c.actor_id == actor_id).scalar_subquery(),
            select(st.c.last_status_at_us).where(st.c.actor_id == actor_id).scalar_subquery(),
            follows(f.c.followed_id, "accepted"),
            follows(f.c.follower_id, "accepted"),
            follows(f.c.followed_id, "pending"),
        )
    ).one()
    statuses, last_status, followers, following, requests = row
    # Mastodon counts reblogs as statuses (a community's posts are all reblogs).
    return AccountCounts(statuses or 0, followers, following, requests, last_status)


#: Built once: a query built per call costs SQLAlchemy more than running it does on
#: a timeline's hot path (bench/timeline.py). Three counts in one round trip; statuses
#: are counted on write (`stats`).
_ACTORS_BY_ID = select(tables.actors).where(
    tables.actors.c.id.in_(bindparam("ids", expanding=True))
)
_COUNTS_BY_ACTOR = text(
    """
SELECT actor_id, 'statuses', statuses_count, last_status_at_us FROM account_stats
 WHERE actor_id IN :ids
UNION ALL SELECT followed_id, 'followers', count(*), CAST(NULL AS BIGINT) FROM follows
 WHERE followed_id IN :ids AND state = 'accepted' GROUP BY followed_id
UNION ALL SELECT follower_id, 'following', count(*), CAST(NULL AS BIGINT) FROM follows
 WHERE follower_id IN :ids AND state = 'accepted' GROUP BY follower_id
"""
).bindparams(bindparam("ids", expanding=True))


def load_accounts(
    conn: Connection, actor_ids: Iterable[int], info: InstanceInfo
) -> dict[int, AccountFacts]:
    """Accounts by actor id, for lists of statuses and accounts: two queries however
    many accounts (the ``follow_requests`` count is left at 0)."""
    ids = sorted(set(actor_ids))
    if not ids:
        return {}
    rows = conn.execute(_ACTORS_BY_ID, {"ids": ids}).mappings().all()
    counts: dict[tuple[int, str], tuple[int, int | None]] = {
        (row[0], row[1]): (int(row[2]), row[3])
        for row in conn.execute(_COUNTS_BY_ACTOR, {"ids": ids})
    }
    found: dict[int, AccountFacts] = {}
    for row in rows:
        actor_id = row["id"]
        count, last = counts.get((actor_id, "statuses"), (0, None))
        facts = AccountCounts(
            statuses=count,
            followers=counts.get((actor_id, "followers"), (0, None))[0],
            following=counts.get((actor_id, "following"), (0, None))[0],
            last_status_at_us=last,
        )
        found[actor_id] = account_facts(row, info, facts)
    return found


def get_account(conn: Connection, actor_id: int, info: InstanceInfo) -> AccountFacts:
    row = conn.execute(select(tables.actors).where(tables.actors.c.id == actor_id)).mappings()
    found = row.first()
    if found is None:
        raise NotFound("Record not found")
    return account_facts(found, info, load_counts(conn, actor_id))


def get_member_account(conn: Connection, user_id: int, info: InstanceInfo) -> AccountFacts:
    """The account of the member who signs in as ``user_id``."""
    member = members.get_member_by_user_id(conn, user_id)
    return get_account(conn, member.actor_id, info)
