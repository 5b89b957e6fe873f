"""Search v2: accounts by handle or name, statuses by URL, hashtags by prefix.

With ``resolve`` (members only, as in Mastodon) an unknown ``@name@domain`` is
looked up by WebFinger and its actor fetched, and an unknown URL is fetched:
an actor becomes an account, a note (or another object a post can be) a status.
Fetches go through `federation`, signed and bound by the address policy.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from activitypub.errors import ActivityPubError
from fediverse_share import tables
from fediverse_share.errors import AppError
from fediverse_share.federation import actions, resolving
from fediverse_share.mastodon import tables as mt
from fediverse_share.mastodon.statuses import Viewer
from fediverse_share.mastodon.timelines import can_see
from fediverse_share.runtime import Runtime

_HANDLE = re.compile(r"@?([a-z0-9_.-]+)(?:@([a-z0-9.-]+(?::\d+)?))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Query:
    q: str
    kind: str | None  # accounts | statuses | hashtags | None for all
    resolve: bool
    limit: int
    offset: int

    def wants(self, kind: str) -> bool:
        return self.kind in (None, kind)


@dataclass(frozen=True, slots=True)
class Found:
    account_ids: list[int]
    status_ids: list[int]
    hashtags: list[str]


def accounts_like(conn: Connection, text: str, limit: int, offset: int) -> list[int]:
    a = tables.actors
    match = _HANDLE.fullmatch(text)
    clauses = [func.lower(a.c.name).contains(text.lower(), autoescape=True)]
    if match:
        username, domain = match.group(1).lower(), match.group(2)
        by_name = a.c.username.startswith(username, autoescape=True)
        clauses.append(by_name & (a.c.domain == domain.lower()) if domain else by_name)
    query = (
        select(a.c.id)
        .where(or_(*clauses), a.c.type != "Application", a.c.gone.is_(False))
        .order_by(a.c.local.desc(), a.c.username)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).scalars())


def _hashtags(conn: Connection, text: str, limit: int, offset: int) -> list[str]:
    prefix = text.lstrip("#").lower()
    if not prefix:
        return []
    t = mt.post_tags
    query = (
        select(t.c.name)
        .where(t.c.name.startswith(prefix, autoescape=True))
        .group_by(t.c.name)
        .order_by(t.c.name)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).scalars())


async def search(runtime: Runtime, query: Query, viewer: Viewer | None) -> Found:
    text = query.q.strip()
    account_ids: list[int] = []
    status_ids: list[int] = []
    if query.resolve and viewer is not None and query.offset == 0:
        with contextlib.suppress(AppError, ActivityPubError):
            if text.startswith(("https://", "http://")):
                actor_id, post_id = await resolving.resolve_url(runtime, text)
                account_ids += [actor_id] if actor_id else []
                status_ids += [post_id] if post_id else []
            elif "@" in text.lstrip("@") and query.wants("accounts"):
                account_ids.append((await actions.resolve(runtime, text))["id"])
    elif text.startswith(("https://", "http://")):
        post = await runtime.db.read(resolving.post_by_url, text)
        status_ids += [post["id"]] if post is not None else []
    if query.wants("accounts") and not text.startswith(("https://", "http://")):
        more = await runtime.db.read(accounts_like, text.lstrip("@"), query.limit, query.offset)
        account_ids += [i for i in more if i not in account_ids]
    visible = await runtime.db.read(_visible, status_ids, viewer)
    hashtags = (
        await runtime.db.read(_hashtags, text, query.limit, query.offset)
        if query.wants("hashtags") and text and not text.startswith(("http", "@"))
        else []
    )
    return Found(
        account_ids[: query.limit] if query.wants("accounts") else [],
        visible[: query.limit] if query.wants("statuses") else [],
        hashtags,
    )


def _visible(conn: Connection, ids: list[int], viewer: Viewer | None) -> list[int]:
    p = tables.posts
    rows = conn.execute(select(p).where(p.c.id.in_(ids))).mappings().all() if ids else []
    return [row["id"] for row in rows if can_see(conn, row, viewer)]
