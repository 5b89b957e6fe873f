"""Clearing requests arriving at our instance actor's inbox, answered at once.

`fediverse_share.web.inbox` verifies the signature, the key's owner and the origin as
for any activity, then asks `answers` whether the activity is a clearing request
(``Offer(ClearingTransfer)``, ``Create(ClearingStatement)``); if so `answer` handles it
in the request and returns the answer activity, and nothing is stored in the inbox
queue (the legs and statements are the record, keyed by transfer id and sequence).
Only a peer's instance actor may send them (checked in the transaction that answers
a transfer, `settlement.sender_link`); anything else gets ``Reject`` with a code.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from activitypub.objects import Activity, types_of
from exchange.errors import LedgerError
from fediverse_share.clearing import reconcile, settlement, wire
from fediverse_share.clearing.settlement import Position, Refusal
from fediverse_share.errors import AppError
from fediverse_share.federation.delivery import domain_of
from fediverse_share.runtime import Runtime

ACTIVITY_JSON = "application/activity+json"


def answers(activity: Activity) -> bool:
    kinds = types_of(activity.object) if isinstance(activity.object, dict) else []
    return (activity.type == "Offer" and "ClearingTransfer" in kinds) or (
        activity.type == "Create" and "ClearingStatement" in kinds
    )


async def answer(runtime: Runtime, activity: Activity) -> Response:
    transfer_id = ""
    try:
        if activity.type == "Create":
            await runtime.db.read(settlement.sender_link, activity.actor)
            status, doc = await reconcile.answer_statement(runtime, activity)
        else:
            message = wire.parse_transfer(activity.object)
            transfer_id = message.transfer_id
            status, doc = await _answer_transfer(runtime, activity, message)
    except (LedgerError, AppError) as error:
        refusal = Refusal(error.code, error.message)
        status, doc = 200, settlement.reject(runtime, activity.id, transfer_id, refusal)
    return JSONResponse(doc, status_code=status, media_type=ACTIVITY_JSON)


async def _answer_transfer(
    runtime: Runtime, activity: Activity, message: wire.TransferMessage
) -> tuple[int, dict[str, Any]]:
    at = Position.on(message.path, runtime.instance.domain, domain_of(activity.actor))
    if message.condition is None:
        return 200, await settlement.answer_quote(runtime, activity.id, message, at, activity.actor)
    return await settlement.answer_prepare(runtime, activity.id, message, at, activity.actor)
