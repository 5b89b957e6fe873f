"""Worker steps that finish what a request could not: legs in flight, routes, statements.

`resolve_prepared` looks at our prepared legs that have a downstream and have not
moved for `RETRY_AFTER_US` (the request that prepared them ended without an answer: a
timeout, a crash, a restart). Before the leg's expiry it sends the leg on again, which
the downstream answers from its own record (a replay changes nothing). After the
expiry it asks the downstream for the state of its leg (`GET /clearing/legs/{ref}`,
the "commit registry"): a commit there, shown by a fulfilment that meets the
condition, makes ours ``in_doubt`` (kept for the operator and reconciliation); anything
else, a claimed commit with a wrong fulfilment included, makes it ``expired``. The ledger's own step
releases expired holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from activitypub.errors import ActivityPubError, FetchFailed
from exchange import clearing, peers
from exchange import clearing_tables as ct
from exchange.clearing import Leg, LegState
from fediverse_share.clearing import directory, settlement, transport
from fediverse_share.clearing.reconcile import reconcile_due
from fediverse_share.federation.fetching import fetcher_for
from fediverse_share.runtime import Runtime

RETRY_AFTER_US = 2 * 1_000_000
#: How long after its expiry a leg waits for a downstream that still says "prepared".
GIVE_UP_AFTER_US = 10 * 60 * 1_000_000
ROUTES_EVERY_US = 60 * 1_000_000
BATCH = 50


def _stalled(conn: Connection, before_us: int) -> list[Leg]:
    legs = ct.legs
    rows = conn.execute(
        select(legs)
        .where(
            legs.c.state == LegState.PREPARED.value,
            legs.c.downstream_domain.is_not(None),
            legs.c.updated_at_us <= before_us,
        )
        .order_by(legs.c.updated_at_us)
        .limit(BATCH)
    )
    return [clearing.leg_from_row(row) for row in rows]


async def resolve_prepared(runtime: Runtime) -> int:
    """Worker step: one pass over stalled legs; counts those whose state changed."""
    return await resolve_stalled(runtime, runtime.now_us() - RETRY_AFTER_US)


async def resolve_stalled(runtime: Runtime, before_us: int) -> int:
    """Send on, or settle, prepared legs that have not moved since ``before_us``."""
    changed = 0
    for leg in await runtime.db.read(_stalled, before_us):
        if runtime.now_us() < leg.expires_at_us - settlement.hop_margin_us(runtime):
            after = await settlement.send_on(runtime, leg)
        else:
            after = await _settle_expired(runtime, leg)
        if after.state is LegState.PREPARED:
            await runtime.db.write(_touch, leg.transfer_id, runtime.now_us())
        else:
            changed += 1
    return changed


def _touch(conn: Connection, transfer_id: str, at_us: int) -> None:
    legs = ct.legs
    conn.execute(legs.update().where(legs.c.transfer_id == transfer_id).values(updated_at_us=at_us))


async def leg_state_at(runtime: Runtime, domain: str, transfer_id: str) -> dict[str, Any] | None:
    """The state of ``transfer_id``'s leg at ``domain`` (signed GET), if it answers."""
    link = await runtime.db.read(peers.get_link, domain)
    url = f"{directory.base_of(link.actor_uri)}/clearing/legs/{clearing.leg_ref(transfer_id)}"
    fetcher = await fetcher_for(runtime)
    try:
        return await fetcher.get_json(
            url, accept="application/json", media_types=("application/json",)
        )
    except FetchFailed as error:
        # The downstream answers 404 for a transfer it never held: it cannot commit it.
        return {"state": "unknown"} if error.status == 404 else None
    except ActivityPubError:
        return None


async def _settle_expired(runtime: Runtime, leg: Leg) -> Leg:
    """Our hold expired with no answer: find out what the downstream did."""
    assert leg.downstream_domain is not None
    state = await leg_state_at(runtime, leg.downstream_domain, leg.transfer_id)
    undecided = state is None or state.get("state") == "prepared"
    if undecided and runtime.now_us() < leg.expires_at_us + GIVE_UP_AFTER_US:
        return leg  # ask again later: the downstream's answer decides
    state = state or {}
    if state.get("state") in ("committed", "in_doubt") and isinstance(state.get("fulfilment"), str):
        answer = transport.Answer(200, {"type": "Accept", "result": {**state}})
        link = await runtime.db.read(peers.get_link, leg.downstream_domain)
        leg = await settlement.apply_answer(
            runtime, leg, answer, link.currency_code, link.currency_scale
        )
        if leg.state is not LegState.PREPARED:
            return leg
        # A fulfilment that does not meet the condition proves nothing: the downstream
        # claims a commit it cannot show, so our expired hold stands.
    return await runtime.db.write(clearing.mark_expired, leg.transfer_id, runtime.now_us())


async def refresh_routes(runtime: Runtime) -> int:
    """Worker step: peers' routes once a minute (they change with links and limits)."""
    if runtime.now_us() - runtime.schedule.get("routes", 0) < ROUTES_EVERY_US:
        return 0
    runtime.schedule["routes"] = runtime.now_us()
    await directory.refresh_routes(runtime)
    return 0  # background upkeep: never keeps run_until_idle busy


async def reconcile(runtime: Runtime) -> int:
    """Worker step: statements to peers once per interval."""
    await reconcile_due(runtime, runtime.schedule)
    return 0
