"""Inboxes: verify, store, answer 202; process later, idempotently by activity id.

The request path does the least it can: one signature check (public keys are
cached by keyId), one JSON parse, one insert batched with the other requests' of the
moment (`Database.write_batched`: one statement and one commit for the batch, and
the 202 only once committed). Everything else (handlers that may fetch remote
objects) runs in the worker, so a slow peer never holds an inbox request open and
nothing accepted is lost in a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, select, update
from starlette.requests import Request
from starlette.responses import Response

from activitypub import signatures
from activitypub.objects import Activity, check_context, check_same_origin, parse_activity
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.errors import OutOfOrder
from fediverse_share.federation import handlers, keys
from fediverse_share.federation.delivery import domain_of
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_ignore
from fediverse_share.web.bodies import parse_json_object, read_body

PROCESS_BATCH = 100
MAX_ATTEMPTS = 5
RETRY_BASE_US = 30 * 1_000_000
#: The first retry of an item that came before one it needs (`OutOfOrder`).
RETRY_SOON_US = 1_000_000


@dataclass(frozen=True, slots=True)
class InboxItem:
    """An accepted activity on its way to `inbox_items`."""

    id: int
    activity_uri: str
    actor_uri: str
    recipient_id: int | None
    body: bytes


async def receive(request: Request, recipient_id: int | None) -> Response:
    runtime: Runtime = request.app.state.runtime
    activity, body = await verified_activity(runtime, request)
    await accept(runtime, activity, recipient_id, body)
    return Response(status_code=202)


async def accept(
    runtime: Runtime, activity: Activity, recipient_id: int | None, body: bytes
) -> None:
    """Store a verified activity; returns once it is committed (then answer 202)."""
    item = InboxItem(runtime.ids.next_id(), activity.id, activity.actor, recipient_id, body)
    await runtime.db.write_batched(store_items, item)


async def verified_activity(runtime: Runtime, request: Request) -> tuple[Activity, bytes]:
    """The activity a POST carries, once its signature, key owner and origin are checked;
    raises the typed errors the web layer turns into 401 or 400."""
    body = await read_body(request, runtime.settings.max_body_bytes)
    verified = await signatures.verify_request(
        method=request.method,
        target_uri=target_uri(runtime, request),
        headers=request.headers,
        body=body,
        resolve_key=keys.resolver(runtime),
    )
    document = parse_json_object(body)
    check_context(document)
    activity = parse_activity(document)
    signatures.check_key_owner(verified, activity.actor)
    check_same_origin(activity, activity.actor)
    return activity, body


def target_uri(runtime: Runtime, request: Request) -> str:
    """Our public URL of the request, as its signer saw it: behind a TLS proxy the app
    sees http, and the path and query are taken as sent (percent-encoded)."""
    # Straight from the scope: building request.url and splitting it again cost more
    # than the rest of this (~10 µs per inbox POST, bench/inbox.py).
    scope = request.scope
    raw_path: bytes | None = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query: bytes = scope["query_string"]
    if query:
        return f"{runtime.instance.base_url}{path}?{query.decode('latin-1')}"
    return f"{runtime.instance.base_url}{path}"


def store(
    conn: Connection,
    runtime: Runtime,
    activity_uri: str,
    actor_uri: str,
    recipient_id: int | None,
    body: bytes,
) -> None:
    """Keep one activity (see `store_items`)."""
    item = InboxItem(runtime.ids.next_id(), activity_uri, actor_uri, recipient_id, body)
    store_items(conn, [item])


def store_items(conn: Connection, items: list[InboxItem]) -> list[None]:
    """Keep each activity once, with one statement for all; a replay of an id already
    kept (or twice in ``items``) is accepted and ignored. A `BatchQuery`."""
    at = now_us()
    rows = [
        {
            "id": item.id,
            "activity_uri": item.activity_uri,
            "actor_uri": item.actor_uri,
            "recipient_id": item.recipient_id,
            "body": item.body.decode("utf-8", errors="replace"),
            "received_at_us": at,
            "next_attempt_at_us": at,
            "attempts": 0,
        }
        for item in items
    ]
    insert_or_ignore(conn, tables.inbox_items, rows)
    # A peer that talks to us is reachable again.
    peers = {domain_of(item.actor_uri) for item in items}
    conn.execute(_REACHABLE_AGAIN, [{"peer": peer} for peer in peers])
    return [None] * len(items)


# Built once: building an UPDATE and computing its cache key cost SQLAlchemy ~100 µs
# per call, five times what running it costs, on the inbox's hot path (bench/inbox.py).
_REACHABLE_AGAIN = (
    update(tables.domains)
    .where(tables.domains.c.domain == bindparam("peer"), tables.domains.c.unavailable.is_(True))
    .values(unavailable=False, failure_days=0)
)


def _pending(conn: Connection, limit: int) -> list[RowMapping]:
    i = tables.inbox_items
    rows = conn.execute(
        select(i)
        .where(
            i.c.processed_at_us.is_(None),
            i.c.attempts < MAX_ATTEMPTS,
            i.c.next_attempt_at_us <= now_us(),
        )
        .order_by(i.c.id)
        .limit(limit)
    )
    return list(rows.mappings())


def _finish(conn: Connection, item: RowMapping, error: Exception | None) -> None:
    i = tables.inbox_items
    at = now_us()
    attempts = item["attempts"]
    text = None if error is None else f"{type(error).__name__}: {error}"
    values: dict[str, Any] = {"attempts": attempts + 1, "error": text}
    if error is None:
        values["processed_at_us"] = at
    elif isinstance(error, OutOfOrder) and attempts == 0:
        values["next_attempt_at_us"] = at + RETRY_SOON_US  # what it needs may be near
    else:
        # A failure is usually a peer we could not reach: try again later, not now.
        values["next_attempt_at_us"] = at + RETRY_BASE_US * 4**attempts
    conn.execute(update(i).where(i.c.id == item["id"]).values(**values))


async def _handle(runtime: Runtime, item: RowMapping) -> Exception | None:
    """Handle one item; the error it raised, if any (recorded on the item)."""
    try:
        await handlers.handle(runtime, item)
    except Exception as exc:  # recorded on the item; retried up to MAX_ATTEMPTS
        if not getattr(exc, "code", None):
            handlers.log.exception("inbox item %s failed", item["activity_uri"])
        return exc
    return None


async def process_pending(runtime: Runtime) -> int:
    """One worker step: handle stored activities in arrival order.

    Deliveries overtake each other, so an item may arrive before one it needs (a trade's
    ``pay`` before its ``confirm``: `OutOfOrder`). Such items are tried again at the end
    of the step, in order, for as long as that gets any of them through (the items after
    them may have brought what they need), and then soon after (`RETRY_SOON_US`).
    """
    items = await runtime.db.read(_pending, PROCESS_BATCH)
    early: list[RowMapping] = []
    for item in items:
        error = await _handle(runtime, item)
        if isinstance(error, OutOfOrder):
            early.append(item)
        else:
            await runtime.db.write(_finish, item, error)
    while early:
        outcomes = [(item, await _handle(runtime, item)) for item in early]
        still = [item for item, error in outcomes if isinstance(error, OutOfOrder)]
        for item, error in outcomes:
            if not isinstance(error, OutOfOrder) or len(still) == len(early):
                await runtime.db.write(_finish, item, error)
        early = still if len(still) < len(early) else []
    return len(items)
