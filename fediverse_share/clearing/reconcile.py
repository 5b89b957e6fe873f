"""Reconciliation between peers: signed statements of what crossed each link.

Every `INTERVAL_US` (and on demand: `reconcile_link`, the CLI's ``peer reconcile``) a
community sends each peer ``Create(ClearingStatement)`` with the next sequence number,
the number of committed legs on the link and the hash of their lines
(`exchange.reconciliation`). The peer compares it with its own and answers ``Accept``
(they match) or ``Reject`` (``statement_mismatch``, with its own figures); both sides
record the statement, and a mismatch freezes the link on both sides and is shown to
operators in ``peer list``. While legs are in flight either side answers 202 and the
statement is sent again later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from activitypub.objects import Activity
from exchange import peers, reconciliation
from exchange.reconciliation import Statement
from fediverse_share.clearing import transport, wire
from fediverse_share.federation.delivery import domain_of
from fediverse_share.runtime import Runtime

INTERVAL_US = 3600 * 1_000_000


def _render(seq: int, statement: Statement) -> dict[str, Any]:
    return {
        "type": "ClearingStatement",
        "seq": seq,
        "legs": statement.legs,
        "legsHash": statement.legs_hash,
    }


def _parse(value: Any) -> tuple[int, Statement]:
    if not isinstance(value, dict):
        raise wire.MessageInvalid("a ClearingStatement object was expected")
    seq, legs, digest = value.get("seq"), value.get("legs"), value.get("legsHash")
    if type(seq) is not int or type(legs) is not int or not isinstance(digest, str):
        raise wire.MessageInvalid("a statement has seq, legs and legsHash")
    return seq, Statement(legs, digest[:64])


def _ours(conn: Connection, domain: str) -> tuple[int, Statement | None]:
    return reconciliation.next_seq(conn, domain), reconciliation.statement(conn, domain)


async def reconcile_link(runtime: Runtime, domain: str) -> bool | None:
    """Send our statement of the link with ``domain``; whether it matched, or ``None``
    if it could not be compared now (legs in flight, peer unreachable)."""
    seq, ours = await runtime.db.read(_ours, domain)
    if ours is None:
        return None
    link = await runtime.db.read(peers.get_link, domain)
    answer = await transport.ask_peer(runtime, link, "Create", _render(seq, ours))
    if answer.kind not in ("Accept", "Reject") or "legsHash" not in answer.result:
        return None
    _, theirs = _parse({**answer.result, "seq": seq})
    return bool(
        await runtime.db.write(
            reconciliation.record, domain, seq, "sent", theirs, ours, runtime.now_us()
        )
    )


async def answer_statement(runtime: Runtime, activity: Activity) -> tuple[int, dict[str, Any]]:
    seq, theirs = _parse(activity.object)
    domain = domain_of(activity.actor)
    ours = await runtime.db.read(reconciliation.statement, domain)
    if ours is None:
        return 202, {"state": "legs in flight"}
    matched = await runtime.db.write(
        reconciliation.record, domain, seq, "received", theirs, ours, runtime.now_us()
    )
    result = {"seq": seq, "legs": ours.legs, "legsHash": ours.legs_hash}
    if not matched:
        result["code"] = "statement_mismatch"
    kind = "Accept" if matched else "Reject"
    return 200, wire.answer(kind, transport.instance_actor(runtime), activity.id, result)


async def reconcile_due(runtime: Runtime, last_run_us: dict[str, int]) -> int:
    """Worker step: a statement to every active peer once per `INTERVAL_US`."""
    done = 0
    for link in await runtime.db.read(peers.list_links):
        if not link.carries_new_transfers:
            continue
        job = f"statement:{link.domain}"
        if runtime.now_us() - last_run_us.get(job, 0) < INTERVAL_US:
            continue
        if await reconcile_link(runtime, link.domain) is not None:
            last_run_us[job] = runtime.now_us()
            done += 1
    return done
