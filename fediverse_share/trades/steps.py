"""The steps of a cross-community trade, taken on one server and applied on the other.

A member's step goes through `step_and_federate` (the exchange API's trade steps call
it too): the domain takes the step (`exchange.trades`), then each new step by our
member is sent to the other party in the same database transaction: ``accept`` as
``Accept{object: <Offer>, result: Agreement}``, ``decline`` as ``Reject``, any later
step (deliver, confirm, pay, return, cancel) as ``Create(EconomicEvent{context:
<Agreement>, sharingStep})``, the payment of a trade paid through clearing with its
``clearingTransfer`` (`fediverse_share.trades.payments` pays it first). The other
server applies it to its own record (`apply_remote`), as the remote party; a step
repeated changes nothing (the domain recognises it), and a payment through clearing
counts only with a committed leg of that transfer there (`exchange.trade_clearing`).
When a trade settles on the server of the listing's author (the respondent), that
server publishes the receipt ``Create(Document{name: "Receipt", context:
<Agreement>})`` to the other party, once: settling happens once. Either way,
the other party hears of a new step in the same write when they are a member here
(`fediverse_share.trades.notices`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, RowMapping

from activitypub.objects import Activity, id_of
from exchange import trades
from exchange.errors import InvalidTransition
from exchange.trade_machine import Action
from exchange.trade_store import TradeStep, find_trade_by_agreement, list_steps
from exchange.trade_terms import Party, Trade, TradeState
from fediverse_share.clock import now_us
from fediverse_share.errors import OutOfOrder
from fediverse_share.federation import publish
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.trades import notices, records
from fediverse_share.trades.errors import NotTheCounterparty, OfferInvalid, UnknownAgreement
from fediverse_share.trades.wire import (
    EVENT_STEPS,
    parse_clearing_transfer,
    render_accept,
    render_event,
    render_receipt,
    render_reject,
)

_DOMAIN_STEPS: dict[str, Callable[..., Trade]] = {
    "accept": trades.accept,
    "decline": trades.decline,
    "cancel": trades.cancel,
    "deliver": trades.deliver,
    "confirm": trades.confirm,
    "pay": trades.pay,
    "return": trades.mark_returned,
}
_WITH_REASON = frozenset({"decline", "cancel"})


def step_and_federate(
    conn: Connection,
    runtime: Runtime,
    step: Callable[..., Trade],
    trade_id: str,
    actor: str,
    at_us: int,
    **arguments: Any,
) -> Trade:
    """Take a member's step with the domain's ``step`` function; if the trade is with
    another community, send what changed (nothing when the step was a repeat)."""
    seen = notices.count_steps(conn, trade_id)
    trade = step(conn, trade_id, actor, at_us, **arguments)
    if trade.is_remote and trade.agreement_uri is not None:
        for new in list_steps(conn, trade_id)[seen:]:
            _send(conn, runtime, trade, new)
    notices.tell_new_steps(conn, runtime, trade, seen)  # the other party, if a member here
    return trade


def _send(conn: Connection, runtime: Runtime, trade: Trade, step: TradeStep) -> None:
    actor = records.local_actor(conn, trade)
    to = records.remote_party(trade)
    base = records.trade_base(runtime, trade)
    agreement = str(trade.agreement_uri)
    if step.actor_role is None:
        if step.action is Action.SETTLE:
            _publish_receipt(conn, runtime, trade, actor)
        return
    if step.action is Action.ACCEPT:
        from fediverse_share.trades.negotiation import terms_of

        offer = _received_offer(conn, agreement)
        doc = render_accept(f"{base}/accept", terms_of(conn, trade), offer, actor["uri"], to)
    elif step.action is Action.DECLINE:
        offer = _received_offer(conn, agreement)
        doc = render_reject(f"{base}/reject", offer, actor["uri"], to, step.reason)
    else:
        uri = f"{base}/events/{step.seq}"
        cleared = trade.payment_id if step.action is Action.PAY and trade.is_cleared else None
        doc = render_event(uri, agreement, step.action.value, actor["uri"], to, step.reason,
                           step.at_us, cleared)  # fmt: skip
    publish.record_activity(conn, runtime, actor, doc, public=False)


def _received_offer(conn: Connection, agreement_uri: str) -> str:
    offer = records.find_received(conn, agreement_uri, "Offer")
    if offer is None:
        raise OfferInvalid("we received no Offer for this trade")
    return str(offer["uri"])


def _publish_receipt(conn: Connection, runtime: Runtime, trade: Trade, actor: RowMapping) -> None:
    """The listing's author (the respondent, when a member here) confirms settlement."""
    if trade.party(trade.proposer.other).is_remote:
        return
    uri = f"{records.trade_base(runtime, trade)}/receipt"
    doc = render_receipt(uri, str(trade.agreement_uri), actor["uri"],
                         records.remote_party(trade), now_us())  # fmt: skip
    publish.record_activity(conn, runtime, actor, doc, public=False)


def apply_remote(
    conn: Connection,
    runtime: Runtime,
    trade: Trade,
    step: str,
    actor_uri: str,
    reason: str | None,
    clearing_transfer: str | None = None,
) -> Trade:
    """Take the remote party's ``step`` on our record; publish the receipt if it settles.
    A payment names the ``clearing_transfer`` that paid it, if any."""
    arguments: dict[str, Any] = {"reason": reason} if step in _WITH_REASON else {}
    if step == "pay" and clearing_transfer is not None:
        arguments["clearing_transfer_id"] = clearing_transfer
    seen = notices.count_steps(conn, trade.id)
    after = _DOMAIN_STEPS[step](conn, trade.id, Party.remote(actor_uri), now_us(), **arguments)
    if any(s.action is Action.SETTLE for s in list_steps(conn, trade.id)[seen:]):
        _publish_receipt(conn, runtime, after, records.local_actor(conn, after))
    notices.tell_new_steps(conn, runtime, after, seen)
    return after


def trade_of(conn: Connection, agreement_uri: str | None, actor_uri: str) -> Trade:
    """Our record of the Agreement, if ``actor_uri`` is its remote party."""
    trade = None if agreement_uri is None else find_trade_by_agreement(conn, agreement_uri)
    if trade is None:
        raise UnknownAgreement("no trade here has this Agreement")
    if records.remote_party(trade) != actor_uri:
        raise NotTheCounterparty("only the other party of the trade can do this")
    return trade


def _apply_event(
    conn: Connection, runtime: Runtime, activity: Activity, event: dict[str, Any]
) -> None:
    step = event.get("sharingStep")
    if step not in EVENT_STEPS or id_of(event.get("attributedTo")) != activity.actor:
        raise OfferInvalid("an EconomicEvent names a trade step, by the actor that sends it")
    trade = trade_of(conn, id_of(event.get("context")), activity.actor)
    reason = event.get("content")
    try:
        apply_remote(conn, runtime, trade, str(step), activity.actor,
                     reason[:500] if isinstance(reason, str) else None,
                     parse_clearing_transfer(event))  # fmt: skip
    except InvalidTransition as exc:  # the steps before it may still be on their way
        raise OutOfOrder(exc.message) from exc


async def receive_event(runtime: Runtime, activity: Activity, event: dict[str, Any]) -> None:
    await runtime.db.write(_apply_event, runtime, activity, event)


def _keep_receipt(
    conn: Connection,
    runtime: Runtime,
    activity: Activity,
    actor: RowMapping,
    receipt: dict[str, Any],
) -> None:
    if id_of(receipt.get("attributedTo")) != activity.actor:
        raise OfferInvalid("a receipt is attributed to the actor that sends it")
    trade = trade_of(conn, id_of(receipt.get("context")), activity.actor)
    if trade.state is not TradeState.SETTLED:
        raise OfferInvalid("a receipt for a trade that is not settled here")
    records.remember(conn, runtime, activity, actor["id"], str(trade.agreement_uri))


async def receive_receipt(
    runtime: Runtime, activity: Activity, actor: RowMapping, receipt: dict[str, Any]
) -> None:
    await runtime.db.write(_keep_receipt, runtime, activity, actor, receipt)


def find_receipt(conn: Connection, agreement_uri: str) -> dict[str, Any] | None:
    """The receipt the other party published for a trade, as it arrived."""
    import orjson

    row = records.find_received(conn, agreement_uri, "Create")
    return None if row is None else dict(orjson.loads(row["document"]))


def _member_step(
    conn: Connection, runtime: Runtime, member: Member, trade_id: str, step: str, reason: str | None
) -> Trade:
    from fediverse_share.exchange_api.trades import get_visible_trade

    get_visible_trade(conn, trade_id, member.username)
    arguments: dict[str, Any] = {"reason": reason} if step in _WITH_REASON else {}
    return step_and_federate(
        conn, runtime, _DOMAIN_STEPS[step], trade_id, member.username, now_us(), **arguments
    )


async def take_step(
    runtime: Runtime,
    member: Member,
    trade_id: str,
    step: str,
    *,
    reason: str | None = None,
    quote_id: str | None = None,
) -> Trade:
    """A member takes ``step`` (accept, decline, cancel, deliver, confirm, pay, return) on
    one of their trades; sent to the other community when the trade is with one. A
    payment through clearing is made first, optionally of the member's ``quote_id``
    (`fediverse_share.trades.payments.pay_step`)."""
    if step == "pay":
        from fediverse_share.trades import payments

        paid = await payments.pay_step(runtime, member, trade_id, quote_id=quote_id)
        if paid is not None:
            return paid
    return await runtime.db.write(_member_step, runtime, member, trade_id, step, reason)
