"""The settlement protocol at one community (DESIGN §5): quote, prepare, commit, abort.

A transfer's path is explicit (source-routed by the payer's side). A community that
receives ``Offer(ClearingTransfer)`` from its upstream neighbour:

* **quote** (no condition): the payee's community answers how much it needs from the
  upstream to deliver what the payee is owed, at its posted rate, with the condition
  (SHA-256 of a fulfilment only it can compute, `fulfilment_for`); a community in
  between asks its downstream first, then answers what it needs itself. A fixed-send
  quote (``send`` instead of ``deliver``) runs the other way: each community converts
  what its upstream sends at its posted rate (`exchange.rates.convert_within`) and
  sends that on, and the payee's community answers what arrives as ``deliver``; the
  legs then prepare as for any quote, citing the same rates, so they convert to the
  same amounts;
* **prepare** (with the condition, the amount and an expiry): it holds its leg
  (`exchange.clearing.prepare`) in one database write, then the payee's community
  commits at once and answers the fulfilment; a community in between sends the leg on
  with an expiry `hop_margin_us` earlier (``clearing_hop_margin_seconds``), commits
  when the fulfilment comes back and answers it upstream, or aborts and answers the
  refusal.

No database transaction spans a network call. A leg whose downstream could not be
reached stays prepared and is answered 202; `fediverse_share.clearing.recovery` sends
it on again, and the upstream asks again: every step is idempotent by transfer id.

Each step reads what it needs in the database transaction that writes, once (the
sender's link, checked there, is the upstream's), and passes it on: a direct payment
costs the payee's community one transaction and the payer's two (bench/clearing.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from exchange import clearing, peers, rates
from exchange.clearing import Leg, LegRequest, LegState
from exchange.errors import LedgerError, LegConflict
from exchange.money import Currency
from exchange.settings import get_currency
from fediverse_share import failpoints
from fediverse_share.clearing import transport, wire
from fediverse_share.clock import render_iso_micros
from fediverse_share.errors import AppError
from fediverse_share.exchange_api.handles import parse_local_handle
from fediverse_share.federation.delivery import domain_of
from fediverse_share.members import find_member
from fediverse_share.runtime import Runtime

QUOTE_VALIDITY_US = 5 * 60 * 1_000_000
_FULFILMENT_CONTEXT = b"fediverse-share clearing fulfilment\n"


class Refusal(AppError):
    """A transfer this community, or one on the path, refuses (answered ``Reject``; a
    member's API call gets 422 with the same code)."""

    status = 422

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def refusal_of(error: LedgerError | AppError) -> Refusal:
    return Refusal(error.code, error.message)


def sender_link(conn: Connection, actor_uri: str) -> peers.Link:
    """The link with the community whose instance actor sent a clearing request: only
    those talk clearing. Raises `UnknownPeer`, `Refusal`."""
    link = peers.get_link(conn, domain_of(actor_uri))
    if link.actor_uri != actor_uri:
        raise Refusal("unknown_peer", "only a peer community's instance actor talks clearing")
    return link


@dataclass(frozen=True, slots=True)
class Onward:
    """What sending a leg on takes besides the leg: the link with its downstream and our
    currency (read with the leg when it is prepared, or by `send_on`)."""

    link: peers.Link
    currency: Currency


def onward(conn: Connection, domain: str) -> Onward:
    return Onward(peers.get_link(conn, domain), get_currency(conn))


def hop_margin_us(runtime: Runtime) -> int:
    """How much earlier each next community's hold expires than ours."""
    return int(runtime.settings.clearing_hop_margin_seconds * 1_000_000)


def fulfilment_for(secret_key: str, transfer_id: str) -> str:
    """The payee's fulfilment of a transfer: derived, so nothing is stored before it
    is needed, and only this community can compute it."""
    mac = hmac.new(secret_key.encode(), _FULFILMENT_CONTEXT + transfer_id.encode(), "sha256")
    return mac.hexdigest()


def condition_for(secret_key: str, transfer_id: str) -> str:
    return hashlib.sha256(bytes.fromhex(fulfilment_for(secret_key, transfer_id))).hexdigest()


@dataclass(frozen=True, slots=True)
class Position:
    """Where this community stands on a transfer's path."""

    upstream: str
    downstream: str | None

    @classmethod
    def on(cls, path: tuple[str, ...], domain: str, sender: str) -> Position:
        if domain not in path[1:]:
            raise Refusal("not_on_path", "this community is not on the transfer's path")
        index = path.index(domain)
        if path[index - 1] != sender:
            raise Refusal("not_on_path", "only the previous community on the path sends this")
        return cls(sender, path[index + 1] if index + 1 < len(path) else None)


# -- answers ---------------------------------------------------------------------------


def accept(runtime: Runtime, request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    return wire.answer("Accept", transport.instance_actor(runtime), request_id, result)


def reject(runtime: Runtime, request_id: str, transfer_id: str, refusal: Refusal) -> dict[str, Any]:
    result = {"transfer": transfer_id, "code": refusal.code, "message": refusal.message}
    return wire.answer("Reject", transport.instance_actor(runtime), request_id, result)


def _fulfilled(leg: Leg, currency: Currency) -> dict[str, Any]:
    return {
        "transfer": leg.transfer_id,
        "fulfilment": leg.fulfilment,
        "gross": wire.render_money(leg.gross_minor, currency),
    }


def answer_for_leg(
    runtime: Runtime, request_id: str, leg: Leg, currency: Currency
) -> tuple[int, dict[str, Any]]:
    """The answer a leg's present state gives to whoever asks again."""
    if leg.state in (LegState.COMMITTED, LegState.IN_DOUBT):
        return 200, accept(runtime, request_id, _fulfilled(leg, currency))
    if leg.state in (LegState.ABORTED, LegState.EXPIRED):
        refusal = Refusal(leg.error_code or leg.state.value, f"the transfer was {leg.state}")
        return 200, reject(runtime, request_id, leg.transfer_id, refusal)
    return 202, {"transfer": leg.transfer_id, "state": leg.state.value}


# -- quotes ----------------------------------------------------------------------------


async def answer_quote(
    runtime: Runtime, request_id: str, message: wire.TransferMessage, at: Position, actor: str
) -> dict[str, Any]:
    """What this community needs from its upstream for ``message`` (a quote request
    from ``actor``, the upstream's instance actor), or for a fixed send what it
    delivers."""
    if message.send is not None:
        result = await _quote_send(runtime, message, at, actor)
    else:
        result = await _quote_deliver(runtime, message, at, actor)
    return wire.answer("TentativeAccept", transport.instance_actor(runtime), request_id, result)


async def _quote_deliver(
    runtime: Runtime, message: wire.TransferMessage, at: Position, actor: str
) -> dict[str, Any]:
    if at.downstream is None:
        needed, condition, cited, valid_until, upstream_currency = await runtime.db.read(
            _payee_quote, runtime, message, actor
        )
        rate_ids = {runtime.instance.domain: cited}
    else:
        downstream = await runtime.db.read(_hop_links, actor, at.downstream)
        answer = await _ask_downstream_quote(runtime, message, downstream)
        needed, condition, rate_ids, valid_until, upstream_currency = await runtime.db.read(
            _hop_quote, runtime, answer, at
        )
    return {
        "transfer": message.transfer_id,
        "amount": wire.render_money(needed, upstream_currency),
        "condition": condition,
        "rates": rate_ids,
        "endTime": render_iso_micros(valid_until),
    }


@dataclass(frozen=True, slots=True)
class _Sent:
    """What a fixed-send quote carries to this community and on from it."""

    sent: dict[str, str]  # what the upstream sends, in its currency
    conversion: rates.Conversion
    rate: rates.PostedRate
    currency: Currency  # ours
    downstream: peers.Link | None


def _convert_sent(
    conn: Connection, runtime: Runtime, message: wire.TransferMessage, at: Position, actor: str
) -> _Sent:
    """Convert what the upstream sends at our current rate; checks the sender, the
    links, the payee at the end, the rate's maximum."""
    upstream = peers.check_active(sender_link(conn, actor))
    sent = wire.parse_money(message.send, upstream.currency)
    if at.downstream is None:
        payee_of(conn, runtime, message)
    downstream = None if at.downstream is None else peers.active_link(conn, at.downstream)
    rate = rates.current_rate(conn, upstream.currency_code, runtime.now_us())
    currency = get_currency(conn)
    conversion = rates.convert_within(sent, rate, currency.scale, upstream.currency_scale)
    return _Sent(wire.render_money(sent, upstream.currency), conversion, rate, currency, downstream)


async def _quote_send(
    runtime: Runtime, message: wire.TransferMessage, at: Position, actor: str
) -> dict[str, Any]:
    here = await runtime.db.read(_convert_sent, runtime, message, at, actor)
    out = wire.render_money(here.conversion.out_minor, here.currency)
    rate_ids = {runtime.instance.domain: here.rate.id}
    valid_until = here.rate.valid_until_us
    if here.downstream is None:
        deliver: Any = out
        condition = condition_for(runtime.settings.secret_key, message.transfer_id)
        valid_until = min(valid_until, runtime.now_us() + QUOTE_VALIDITY_US)
    else:
        onward = dataclasses.replace(message, send=out)
        result = (await _ask_downstream_quote(runtime, onward, here.downstream)).result
        sent_on = wire.parse_money(result.get("amount"), here.currency)
        if sent_on != here.conversion.out_minor or not isinstance(result.get("deliver"), dict):
            raise Refusal("invalid_message", "the downstream quoted another amount than sent")
        deliver, condition = result["deliver"], str(result.get("condition", ""))
        rate_ids = {**dict(result.get("rates") or {}), **rate_ids}
        valid_until = min(valid_until, wire.parse_instant(result.get("endTime")))
    return {
        "transfer": message.transfer_id,
        "amount": here.sent,
        "deliver": deliver,
        "condition": condition,
        "rates": rate_ids,
        "endTime": render_iso_micros(valid_until),
    }


def _needed_from(
    conn: Connection, upstream: peers.Link, out_minor: int, at_us: int
) -> tuple[int, rates.PostedRate]:
    """The least amount the upstream must send for ``out_minor`` to go on from here."""
    link = peers.check_active(upstream)
    rate = rates.current_rate(conn, link.currency_code, at_us)
    scale = get_currency(conn).scale
    needed = rates.amount_in_for(out_minor, rate, scale, link.currency_scale)
    rates.check_within(rate, rates.convert_in(needed, rate, scale, link.currency_scale).gross_minor)
    return needed, rate


def _payee_quote(
    conn: Connection, runtime: Runtime, message: wire.TransferMessage, actor: str
) -> tuple[int, str, str, int, Currency]:
    upstream = sender_link(conn, actor)
    deliver = read_deliver(conn, runtime, message)
    at_us = runtime.now_us()
    needed, rate = _needed_from(conn, upstream, deliver, at_us)
    valid_until = min(rate.valid_until_us, at_us + QUOTE_VALIDITY_US)
    condition = condition_for(runtime.settings.secret_key, message.transfer_id)
    return needed, condition, rate.id, valid_until, upstream.currency


def payee_of(conn: Connection, runtime: Runtime, message: wire.TransferMessage) -> str:
    """The member a transfer's destination names here; raises `Refusal`."""
    username = parse_local_handle(message.destination, runtime.instance.domain, "destination")
    if find_member(conn, username) is None:
        raise Refusal("unknown_payee", "the destination is not a member of this community")
    return username


def read_deliver(conn: Connection, runtime: Runtime, message: wire.TransferMessage) -> int:
    """What the payee is owed, in this (the payee's) community's minor units; checks
    that the destination is a member here."""
    payee_of(conn, runtime, message)
    return wire.parse_money(message.deliver, get_currency(conn))


def _hop_links(conn: Connection, actor: str, downstream: str) -> peers.Link:
    """Checks the sender before anything is asked of the downstream: its active link."""
    sender_link(conn, actor)
    return peers.active_link(conn, downstream)


async def _ask_downstream_quote(
    runtime: Runtime, message: wire.TransferMessage, link: peers.Link
) -> transport.Answer:
    answer = await transport.ask_peer(runtime, link, "Offer", wire.render_transfer(message))
    if answer.kind == "Reject":
        raise Refusal(
            str(answer.result.get("code", "rejected")), str(answer.result.get("message", ""))
        )
    if answer.kind != "TentativeAccept":
        raise Refusal("peer_unreachable", f"{link.domain} did not answer the quote")
    return answer


def _hop_quote(
    conn: Connection, runtime: Runtime, answer: transport.Answer, at: Position
) -> tuple[int, str, dict[str, str], int, Currency]:
    assert at.downstream is not None
    result = answer.result
    out = wire.parse_money(result.get("amount"), get_currency(conn))
    at_us = runtime.now_us()
    upstream = peers.get_link(conn, at.upstream)
    needed, rate = _needed_from(conn, upstream, out, at_us)
    rate_ids = dict(result.get("rates") or {})
    rate_ids[runtime.instance.domain] = rate.id
    end = wire.parse_instant(result.get("endTime"))
    condition = str(result.get("condition", ""))
    return needed, condition, rate_ids, min(end, rate.valid_until_us), upstream.currency


# -- prepare and commit ----------------------------------------------------------------


def leg_request(
    conn: Connection,
    runtime: Runtime,
    message: wire.TransferMessage,
    at: Position,
    upstream: peers.Link,
) -> LegRequest:
    """The leg ``message`` asks this community to hold; raises `Refusal`."""
    assert message.condition is not None and message.expires_at_us is not None
    # A hold must outlive half a margin here, and a whole one more to go on (ILP's R02).
    margin = hop_margin_us(runtime)
    if message.expires_at_us - runtime.now_us() < margin // 2 + (margin if at.downstream else 0):
        raise Refusal("insufficient_timeout", "the transfer expires too soon to go on")
    payee = None
    deliver_minor = None
    if at.downstream is None:
        deliver_minor = read_deliver(conn, runtime, message)
        payee = parse_local_handle(message.destination, runtime.instance.domain, "destination")
    return LegRequest(
        transfer_id=message.transfer_id,
        condition=message.condition,
        expires_at_us=message.expires_at_us,
        destination=message.destination,
        deliver=json.dumps(message.deliver, sort_keys=True),
        amount_minor=wire.parse_money(message.amount, upstream.currency),
        path=message.path,
        rate_ids=message.rate_ids or {},
        memo=message.memo,
        upstream=at.upstream,
        downstream=at.downstream,
        payee_account_id=payee,
        deliver_minor=deliver_minor,
        rate_id=(message.rate_ids or {}).get(runtime.instance.domain),
    )


def _prepare(
    conn: Connection, runtime: Runtime, message: wire.TransferMessage, at: Position, actor: str
) -> tuple[Leg, Currency, Onward | None]:
    """The leg (held now, or as it was), our currency, and what sending a new leg on
    takes (`send_on`)."""
    upstream = sender_link(conn, actor)
    currency = get_currency(conn)
    existing = clearing.find_leg(conn, message.transfer_id)
    if existing is not None:
        # A replay (or a status query): answered from the leg's state, whatever time
        # is left, if it is the same transfer from the same neighbour.
        same = (existing.condition, existing.upstream_domain) == (
            (message.condition or "").lower(),
            at.upstream,
        )
        if not same:
            raise LegConflict(message.transfer_id)
        return existing, currency, None
    links = {at.upstream: upstream}
    fulfilment = None
    if at.downstream is None:  # the payee's community commits as it prepares
        fulfilment = fulfilment_for(runtime.settings.secret_key, message.transfer_id)
    else:
        links[at.downstream] = peers.get_link(conn, at.downstream)
    request = leg_request(conn, runtime, message, at, upstream)
    now_us = runtime.now_us()
    leg = clearing.prepare_new(conn, request, now_us, fulfilment=fulfilment, links=links)
    if at.downstream is None:
        return leg, currency, None
    return leg, currency, Onward(links[at.downstream], currency)


async def answer_prepare(
    runtime: Runtime, request_id: str, message: wire.TransferMessage, at: Position, actor: str
) -> tuple[int, dict[str, Any]]:
    """Hold this community's leg (asked by ``actor``, the upstream's instance actor),
    send it on if there is more path, and answer."""
    try:
        leg, currency, next_hop = await runtime.db.write(_prepare, runtime, message, at, actor)
    except LedgerError as error:
        return 200, reject(runtime, request_id, message.transfer_id, refusal_of(error))
    failpoints.reach(runtime.settings, "hop_prepared" if at.downstream else "payee_committed")
    if leg.state is LegState.PREPARED and leg.downstream_domain is not None:
        leg = await send_on(runtime, leg, next_hop)
        if leg.state is LegState.COMMITTED:
            failpoints.reach(runtime.settings, "hop_committed")
    return answer_for_leg(runtime, request_id, leg, currency)


async def send_on(runtime: Runtime, leg: Leg, known: Onward | None = None) -> Leg:
    """Send a prepared leg to its downstream and apply the answer: commit with the
    fulfilment, abort on a refusal, or stay prepared if there is no answer yet.
    ``known``: the downstream's link and our currency, if read with the leg."""
    assert leg.downstream_domain is not None
    if known is None:
        known = await runtime.db.read(onward, leg.downstream_domain)
    link, currency = known.link, known.currency
    expires = leg.expires_at_us - hop_margin_us(runtime)
    message = wire.TransferMessage(
        transfer_id=leg.transfer_id,
        path=leg.path,
        destination=leg.destination,
        deliver=json.loads(leg.deliver),
        memo=leg.memo,
        condition=leg.condition,
        amount=wire.render_money(leg.out_minor, currency),
        expires_at_us=expires,
        rate_ids=dict(leg.rate_ids),
    )
    timeout = min(runtime.settings.http_timeout_seconds, (expires - runtime.now_us()) / 1e6)
    answer = await transport.ask_peer(
        runtime, link, "Offer", wire.render_transfer(message), timeout
    )
    return await apply_answer(runtime, leg, answer, link.currency_code, link.currency_scale)


async def apply_answer(
    runtime: Runtime, leg: Leg, answer: transport.Answer, code: str, scale: int
) -> Leg:
    """Commit or abort ``leg`` as its downstream answered; anything else leaves it."""
    result = answer.result
    if answer.kind == "Accept" and result.get("transfer") == leg.transfer_id:
        fulfilment = str(result.get("fulfilment", ""))
        try:
            gross = wire.parse_money(result.get("gross"), Currency(code, code, scale))
        except (wire.MessageInvalid, LedgerError):
            gross = None
        try:
            return await runtime.db.write(
                clearing.commit,
                leg.transfer_id,
                fulfilment,
                runtime.now_us(),
                downstream_gross_minor=gross,
            )
        except LedgerError:
            return leg  # a wrong fulfilment proves nothing: ask again later
    if answer.kind == "Reject" and result.get("transfer") == leg.transfer_id:
        reason = str(result.get("code", "rejected"))[:40]
        try:
            return await runtime.db.write(clearing.abort, leg.transfer_id, reason, runtime.now_us())
        except LedgerError:
            return leg  # committed meanwhile (a fulfilment came first): it stands
    return leg
