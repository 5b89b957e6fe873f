"""Clearing messages on the wire: rendering and parsing (FEDERATION.md, "Clearing").

Every message is an activity between two communities' instance actors, signed like any
other. Amounts are ``{"currency": CODE, "value": "12.50"}`` in that currency's units,
rates exact ``"num/den"`` strings, instants ISO 8601 (``endTime``).

* ``Offer(ClearingLink)``: a community asks to peer, or consents back; ``Update``
  of the same object carries a status change (``suspended``, ``active``, ``ended``).
* ``Create``/``Update(RateQuote)``: a posted rate, also served at its ``id``.
* ``Offer(ClearingTransfer)`` (the transfer's id is its ``transfer``: the object is
  not the sender's, so it has no ``id`` of its own) without a ``condition`` asks for
  a quote (answered ``TentativeAccept`` with the amount needed, the payee's condition
  and the rates cited, or ``Reject``). It fixes either what the payee receives
  (``deliver``) or what the sender sends on (``send``, in the sender's currency: a
  fixed-send quote, answered with what that delivers as ``deliver``). A fixed-send
  quote has no ``deliver``, so a peer that does not know ``send`` refuses it as
  ``invalid_message`` rather than quoting something else. With a ``condition``,
  ``amount`` and ``endTime`` it prepares the leg (answered ``Accept`` with the
  ``fulfilment``, ``Reject``, or HTTP 202 while the outcome is not known yet); a
  prepare always names ``deliver`` (for a fixed send, what its quote delivers).
* ``Create(ClearingStatement)``: a reconciliation statement (answered ``Accept`` when
  it matches, ``Reject`` when it does not, 202 while legs are in flight).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from activitypub.objects import id_of
from exchange.money import Currency, parse_amount, render_amount
from exchange.rates import PostedRate, parse_rate, render_rate
from fediverse_share.clock import parse_iso_us, render_iso, render_iso_micros
from fediverse_share.errors import BadRequest
from fediverse_share.federation.render import AS_CONTEXT

NS = "https://w3id.org/fediverse-share/clearing#"
CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "fs": NS,
        "ClearingLink": "fs:ClearingLink",
        "ClearingTransfer": "fs:ClearingTransfer",
        "ClearingStatement": "fs:ClearingStatement",
        "RateQuote": "fs:RateQuote",
    },
]
MAX_PATH = 5  # communities, so at most 4 hops


class MessageInvalid(BadRequest):
    """A clearing message or document that cannot be read."""

    code = "invalid_message"


def text_of(obj: dict[str, Any], name: str, limit: int = 2048) -> str:
    """A string field (an id may be given as an object with an ``id``)."""
    value = id_of(obj.get(name))
    if value is None or not 0 < len(value) <= limit:
        raise MessageInvalid(f"{name} is missing or not a string")
    return value


def _str(obj: dict[str, Any], name: str, limit: int = 2048) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise MessageInvalid(f"{name} is missing or not a string")
    return value


def render_money(amount_minor: int, currency: Currency) -> dict[str, str]:
    return {"currency": currency.code, "value": render_amount(amount_minor, currency)}


def parse_money(value: Any, currency: Currency) -> int:
    """An amount in ``currency``; raises `MessageInvalid` for another currency."""
    if not isinstance(value, dict) or value.get("currency") != currency.code:
        raise MessageInvalid(f"an amount in {currency.code} was expected")
    return parse_amount(_str(value, "value", 40), currency)


def render_currency(currency: Currency) -> dict[str, Any]:
    return {"code": currency.code, "name": currency.name, "scale": currency.scale}


def parse_currency(value: Any) -> Currency:
    if not isinstance(value, dict) or type(value.get("scale")) is not int:
        raise MessageInvalid("a currency is {code, name, scale}")
    return Currency(_str(value, "code", 16), _str(value, "name", 100), value["scale"])


def activity(kind: str, message_id: str, actor: str, to: str, obj: Any) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "id": message_id,
        "type": kind,
        "actor": actor,
        "to": [to],
        "object": obj,
    }


def answer(kind: str, actor: str, request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """A synchronous answer: ``Accept``, ``TentativeAccept`` or ``Reject`` of a request."""
    return {
        "@context": CONTEXT,
        "type": kind,
        "actor": actor,
        "object": request_id,
        "result": result,
    }


def render_link(
    link_id: str, actor: str, community: str, currency: Currency, status: str, at_us: int
) -> dict[str, Any]:
    return {
        "id": link_id,
        "type": "ClearingLink",
        "attributedTo": actor,
        "community": community,
        "currency": render_currency(currency),
        "status": status,
        "updated": render_iso_micros(at_us),
    }


@dataclass(frozen=True, slots=True)
class LinkMessage:
    currency: Currency
    status: str
    updated_us: int  # when the sender wrote it: a later message supersedes it


def parse_link(obj: Any) -> LinkMessage:
    if not isinstance(obj, dict) or obj.get("type") != "ClearingLink":
        raise MessageInvalid("a ClearingLink object was expected")
    status = obj.get("status", "active")
    if status not in ("active", "suspended", "ended"):
        raise MessageInvalid("a link's status is active, suspended or ended")
    updated = _instant(obj, "updated") if "updated" in obj else 0
    return LinkMessage(parse_currency(obj.get("currency")), status, updated)


def render_rate_quote(uri: str, actor: str, rate: PostedRate, currency: Currency) -> dict[str, Any]:
    return {
        "id": uri,
        "type": "RateQuote",
        "attributedTo": actor,
        "currency": currency.code,
        "peerCurrency": rate.peer_currency_code,
        "rate": render_rate(rate.rate),
        "version": rate.version,
        "feeBps": rate.fee_bps,
        "maxAmount": render_money(rate.max_amount_minor, currency),
        "startTime": render_iso(rate.valid_from_us),
        "endTime": render_iso(rate.valid_until_us),
    }


def parse_rate_quote(obj: Any, currency: Currency) -> PostedRate:
    """A peer's RateQuote (``currency`` is the peer's); raises `MessageInvalid`."""
    if not isinstance(obj, dict) or obj.get("type") != "RateQuote":
        raise MessageInvalid("a RateQuote object was expected")
    fee, version = obj.get("feeBps"), obj.get("version")
    if type(fee) is not int or type(version) is not int:
        raise MessageInvalid("feeBps and version are integers")
    return PostedRate(
        id=_str(obj, "id"),
        peer_currency_code=_str(obj, "peerCurrency", 16),
        version=version,
        rate=parse_rate(_str(obj, "rate", 60)),
        fee_bps=fee,
        max_amount_minor=parse_money(obj.get("maxAmount"), currency),
        valid_from_us=_instant(obj, "startTime"),
        valid_until_us=_instant(obj, "endTime"),
    )


@dataclass(frozen=True, slots=True)
class TransferMessage:
    """An ``Offer(ClearingTransfer)``: a quote request, or a prepare if it has a
    ``condition``. Amounts stay on the wire form until the side that knows the
    currency reads them. A quote request has ``deliver`` or ``send`` (not both); a
    prepare has ``deliver``."""

    transfer_id: str
    path: tuple[str, ...]
    destination: str
    deliver: dict[str, Any] | None
    memo: str
    condition: str | None = None
    amount: dict[str, Any] | None = None
    expires_at_us: int | None = None
    rate_ids: dict[str, str] | None = None
    send: dict[str, Any] | None = None


def render_transfer(message: TransferMessage) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "transfer": message.transfer_id,
        "type": "ClearingTransfer",
        "path": list(message.path),
        "destination": message.destination,
        "memo": message.memo,
    }
    if message.deliver is not None:
        doc["deliver"] = message.deliver
    if message.send is not None:
        doc["send"] = message.send
    if message.condition is not None:
        assert message.expires_at_us is not None
        doc.update(
            condition=message.condition,
            amount=message.amount,
            endTime=render_iso_micros(message.expires_at_us),
            rates=message.rate_ids or {},
        )
    return doc


def _rate_ids(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= 300 for k, v in value.items()
    ):
        raise MessageInvalid("rates maps each community's domain to the quote it cites")
    return dict(value)


def parse_transfer(obj: Any) -> TransferMessage:
    if not isinstance(obj, dict) or obj.get("type") != "ClearingTransfer":
        raise MessageInvalid("a ClearingTransfer object was expected")
    path = obj.get("path")
    if not isinstance(path, list) or not 2 <= len(path) <= MAX_PATH:
        raise MessageInvalid(f"a path names 2 to {MAX_PATH} communities")
    if not all(isinstance(d, str) and 0 < len(d) <= 253 for d in path) or len(set(path)) < len(
        path
    ):
        raise MessageInvalid("a path names each community once")
    memo = obj.get("memo", "")
    if not isinstance(memo, str) or len(memo) > 500:
        raise MessageInvalid("a memo is a string of at most 500 characters")
    transfer_id = _str(obj, "transfer")
    if _authority(transfer_id) != path[0].lower():
        # The payer's community mints the id: one on another community's host could
        # take the place of that community's own transfer in our records.
        raise MessageInvalid("a transfer's id is a URL of the first community on its path")
    destination = _str(obj, "destination", 300)
    if "condition" not in obj:
        if ("deliver" in obj) == ("send" in obj):
            raise MessageInvalid("a quote fixes what is delivered or what is sent, not both")
        deliver = _dict(obj, "deliver") if "deliver" in obj else None
        send = _dict(obj, "send") if deliver is None else None
        return TransferMessage(transfer_id, tuple(path), destination, deliver, memo, send=send)
    end = _instant(obj, "endTime")
    return TransferMessage(
        transfer_id,
        tuple(path),
        destination,
        _dict(obj, "deliver"),
        memo,
        condition=_str(obj, "condition", 64),
        amount=_dict(obj, "amount"),
        expires_at_us=end,
        rate_ids=_rate_ids(obj.get("rates", {})),
    )


def _authority(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.lower() if parts.scheme in ("https", "http") else ""


def _instant(obj: dict[str, Any], name: str) -> int:
    return parse_instant(obj.get(name), name)


def parse_instant(value: Any, name: str = "endTime") -> int:
    """An ISO 8601 instant as microseconds; raises `MessageInvalid`."""
    if not isinstance(value, str) or len(value) > 40:
        raise MessageInvalid(f"{name} is an ISO 8601 instant")
    try:
        return parse_iso_us(value)
    except ValueError:
        raise MessageInvalid(f"{name} is an ISO 8601 instant") from None


def _dict(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise MessageInvalid(f"{name} is missing")
    return value


def result_of(document: dict[str, Any]) -> dict[str, Any]:
    """The ``result`` of an answer; raises `MessageInvalid`."""
    result = document.get("result")
    if not isinstance(result, dict):
        raise MessageInvalid("an answer carries a result")
    return result


def kind_of(document: dict[str, Any]) -> str:
    kind = document.get("type")
    return kind if isinstance(kind, str) else ""


def object_id(document: dict[str, Any]) -> str | None:
    return id_of(document.get("object"))
