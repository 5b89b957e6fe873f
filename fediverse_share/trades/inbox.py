"""Which inbound activities belong to a cross-community trade, and who handles them.

`fediverse_share.federation.handlers` asks here first: an ``Offer`` of an Agreement,
an ``Accept`` or ``Reject`` of an Offer we sent (otherwise they answer a Follow), and a
``Create`` of an ``EconomicEvent``, a ``Review`` or a receipt (a ``Document`` named
``Receipt`` with a ``context``).
"""

from __future__ import annotations

from sqlalchemy import RowMapping

from activitypub.objects import Activity, types_of
from fediverse_share.runtime import Runtime
from fediverse_share.trades import negotiation, reviews, steps


async def handle(runtime: Runtime, activity: Activity, actor: RowMapping) -> bool:
    """Handle ``activity`` if it is about a trade; ``False`` if it is not."""
    obj = activity.object
    if activity.type == "Offer":
        if isinstance(obj, dict) and "Agreement" in types_of(obj):
            await negotiation.receive_offer(runtime, activity, actor)
            return True
        return False
    if activity.type in ("Accept", "Reject"):
        return await negotiation.receive_answer(runtime, activity)
    if activity.type != "Create" or not isinstance(obj, dict):
        return False
    kinds = types_of(obj)
    if "EconomicEvent" in kinds:
        await steps.receive_event(runtime, activity, obj)
    elif "Review" in kinds:
        await reviews.receive_review(runtime, activity, actor, obj)
    elif "Document" in kinds and obj.get("name") == "Receipt" and obj.get("context"):
        await steps.receive_receipt(runtime, activity, actor, obj)
    else:
        return False
    return True
