"""Remote posts we receive: checked, sanitised, stored by uri."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, insert, select, update

from activitypub.errors import ActivityPubError
from activitypub.html import sanitise_html
from activitypub.objects import check_same_origin, id_of
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.federation.fetching import fetch_json
from fediverse_share.federation.render import PUBLIC
from fediverse_share.listings.store import mark_withdrawn, store_remote_listing
from fediverse_share.listings.wire import is_proposal, parse_proposal
from fediverse_share.runtime import Runtime


class ForeignObject(ActivityPubError):
    code = "object_origin_mismatch"


def find_post(conn: Connection, uri: str) -> RowMapping | None:
    return conn.execute(select(tables.posts).where(tables.posts.c.uri == uri)).mappings().first()


async def fetch_object(runtime: Runtime, uri: str) -> dict[str, Any]:
    return await fetch_json(runtime, uri)


def _visibility(obj: dict[str, Any]) -> str:
    to = _as_list(obj.get("to"))
    cc = _as_list(obj.get("cc"))
    if PUBLIC in to:
        return "public"
    if PUBLIC in cc:
        return "unlisted"
    return "private" if any(t.endswith("/followers") for t in to) else "direct"


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _instant_us(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e6)
    except ValueError:
        return None


def store_remote_post(
    conn: Connection, runtime: Runtime, obj: dict[str, Any], author: RowMapping
) -> None:
    """Insert or update (if newer) a remote object; its author must be its origin.

    A FEP-0837 Proposal is also kept as a listing (searchable, matched with ours).
    """
    uri = id_of(obj)
    if not uri or id_of(obj.get("attributedTo")) != author["uri"]:
        raise ForeignObject("the object is not attributed to the actor that sent it")
    check_same_origin_of(obj, author["uri"])
    existing = find_post(conn, uri)
    updated = _instant_us(obj.get("updated"))
    values = {
        "content": sanitise_html(str(obj.get("content") or "")),
        "summary": str(obj.get("summary") or ""),
        "url": id_of(obj.get("url")) or uri,
        "in_reply_to_uri": id_of(obj.get("inReplyTo")),
        "visibility": _visibility(obj),
        "updated_at_us": updated,
        "document": orjson.dumps(obj).decode(),
    }
    remote_listing = parse_proposal(obj) if is_proposal(obj) else None
    if existing is None:
        post_id = runtime.ids.next_id()
        conn.execute(
            insert(tables.posts).values(
                id=post_id,
                uri=uri,
                actor_id=author["id"],
                type=_main_type(obj),
                local=False,
                published_at_us=_instant_us(obj.get("published")) or now_us(),
                **values,
            )
        )
    elif updated and updated > (existing["updated_at_us"] or 0):
        post_id = existing["id"]
        conn.execute(update(tables.posts).where(tables.posts.c.id == post_id).values(**values))
    else:
        return
    if remote_listing is not None:
        store_remote_listing(conn, runtime, remote_listing, post_id)


def check_same_origin_of(obj: dict[str, Any], author_uri: str) -> None:
    check_same_origin(obj, author_uri)


def _main_type(obj: dict[str, Any]) -> str:
    kind = obj.get("type")
    if isinstance(kind, list):
        return "Note" if "Note" in kind else str(kind[0])
    return str(kind)


def mark_deleted(conn: Connection, uri: str, author_id: int) -> None:
    p = tables.posts
    deleted = conn.execute(
        update(p)
        .where(p.c.uri == uri, p.c.actor_id == author_id, p.c.deleted_at_us.is_(None))
        .values(deleted_at_us=now_us())
    )
    if deleted.rowcount:
        mark_withdrawn(conn, uri)
