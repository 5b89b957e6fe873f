"""FEP-0837 negotiation: a member proposes a trade on another community's listing.

The member of community B who proposes (`propose_on_listing`) records the trade here and
sends ``Offer(Agreement)`` to the listing's author. A's server checks the Agreement
against the listing it owns (`receive_offer`) and records the same trade (same
Agreement id; the remote party is B's member). The author answers through the trade
steps (`fediverse_share.trades.steps`): ``accept`` sends ``Accept{object: <Offer>,
result: Agreement}``, ``decline`` sends ``Reject``; B's server applies them to its own
record (`receive_answer`) after checking the sender and the terms.

Exchange-domain roles: the member who proposes is the trade's proposer; the listing's
author is the respondent (FEP-0837's "proposer", who later publishes the receipt). A
listing's purpose decides who provides (an offer's author, a need's proposer) and its
kind decides the payment option (`option_for`). A price is paid through clearing when
the proposer's server has a clearing path to the listing's community, otherwise
outside the ledger (`fediverse_share.trades.settlement`); the Offer says which.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, RowMapping, select

from activitypub.objects import Activity, id_of
from exchange import trades
from exchange.money import Currency, parse_amount
from exchange.settings import get_currency
from exchange.trade_store import find_trade, find_trade_by_agreement
from exchange.trade_terms import (
    PRICED,
    ListingKind,
    ListingRef,
    OutsidePayment,
    Party,
    PaymentOption,
    Trade,
    TradeProposal,
)
from fediverse_share import tables
from fediverse_share.clock import now_us
from fediverse_share.federation import publish
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.trades import notices, records, settlement
from fediverse_share.trades.errors import ListingNotTradable, NotTheCounterparty, OfferInvalid
from fediverse_share.trades.wire import (
    AgreementTerms,
    Price,
    parse_cleared,
    parse_end_time_us,
    parse_listing_uri,
    parse_option,
    parse_terms,
    render_offer,
)

_PRICED_KINDS = {"rent": PaymentOption.RENTAL}


def option_for(kind: str, priced: bool) -> PaymentOption:
    """The payment option of a cross-community trade on a listing of ``kind``."""
    if kind == "swap":
        return PaymentOption.SWAP
    if kind in ("lend", "rent") and not priced:
        return PaymentOption.LOAN
    if priced:
        return _PRICED_KINDS.get(kind, PaymentOption.FIXED)
    return PaymentOption.GIFT


def listing_terms(
    listing: RowMapping,
    agreement_uri: str,
    option: PaymentOption,
    due_us: int | None,
    cleared: bool = False,
) -> AgreementTerms:
    price = None
    if listing["price_text"] and listing["currency_uri"]:
        price = Price(listing["currency_uri"], listing["price_text"])
    return AgreementTerms(
        agreement_uri, listing["uri"], option, listing["unit"], listing["quantity"], price,
        due_us, cleared,
    )  # fmt: skip


def terms_of(conn: Connection, trade: Trade) -> AgreementTerms:
    """The Agreement of a cross-community trade, from the listing it is about."""
    listing = find_listing_row(conn, trade.listing.ref)
    if listing is None or trade.agreement_uri is None:
        raise ListingNotTradable("the listing of this trade is unknown here")
    return listing_terms(
        listing, trade.agreement_uri, trade.option, trade.return_due_at_us, trade.is_cleared
    )


def find_listing_row(conn: Connection, uri: str) -> RowMapping | None:
    listings = tables.listings
    query = select(listings).where(listings.c.uri == uri)
    row: RowMapping | None = conn.execute(query).mappings().first()
    return row


def _proposal(
    conn: Connection,
    listing: RowMapping,
    trade_id: str,
    author: Party,
    other: Party,
    agreement_uri: str,
    due_us: int | None,
    cleared: Currency | None,
) -> TradeProposal:
    """The trade on ``listing`` between its ``author`` and the ``other`` party; its price
    paid through clearing in ``cleared`` (the listing's currency), or outside."""
    is_offer = listing["purpose"] == "offer"
    option = option_for(listing["kind"], bool(listing["price_text"]))
    currency, price, outside = get_currency(conn).code, None, None
    if option in PRICED and cleared is not None:
        currency, price = cleared.code, parse_amount(listing["price_text"], cleared)
    elif option in PRICED:
        price = 0
        outside = OutsidePayment(listing["currency_code"], Decimal(listing["price_text"]))
    return TradeProposal(
        trade_id=trade_id,
        listing=ListingRef(
            listing["uri"], listing["title"], ListingKind.OFFER if is_offer else ListingKind.NEED
        ),
        option=option,
        provider=author if is_offer else other,
        receiver=other if is_offer else author,
        currency_code=currency,
        price_minor=price,
        outside=outside,
        return_due_at_us=due_us,
        agreement_uri=agreement_uri,
        clearing_scale=None if cleared is None or price is None else cleared.scale,
    )


def _actor_row(conn: Connection, actor_id: int) -> RowMapping:
    a = tables.actors
    return conn.execute(select(a).where(a.c.id == actor_id)).mappings().one()


async def propose_on_listing(
    runtime: Runtime,
    member: Member,
    listing_uri: str,
    *,
    key: str,
    return_due_us: int | None = None,
) -> Trade:
    """Propose a trade on a remote listing: record it and send ``Offer(Agreement)``.

    ``key`` is the member's idempotency key (the trade is ``<username>:<key>``): the same
    key again returns the trade and sends nothing.
    """
    cleared = await _clearing_currency(runtime, listing_uri, f"{member.username}:{key}")
    return await runtime.db.write(
        _propose, runtime, member, listing_uri, key, return_due_us, cleared
    )


def _proposal_facts(
    conn: Connection, uri: str, trade_id: str
) -> tuple[RowMapping | None, str | None, Trade | None]:
    listing = find_listing_row(conn, uri)
    author = None if listing is None else _actor_row(conn, listing["author_id"])["domain"]
    return listing, author, find_trade(conn, trade_id)


async def _clearing_currency(runtime: Runtime, uri: str, trade_id: str) -> Currency | None:
    """How a new trade will be paid (a trade already recorded keeps its way)."""
    listing, domain, known = await runtime.db.read(_proposal_facts, uri, trade_id)
    if known is not None:
        return settlement.recorded_currency(known)
    if listing is None or domain is None:
        return None
    option = option_for(listing["kind"], bool(listing["price_text"]))
    return await settlement.clearing_currency(runtime, listing, domain, option)


def _propose(
    conn: Connection,
    runtime: Runtime,
    member: Member,
    uri: str,
    key: str,
    due: int | None,
    cleared: Currency | None,
) -> Trade:
    listing = find_listing_row(conn, uri)
    if listing is None or listing["local"] or listing["withdrawn_at_us"] is not None:
        raise ListingNotTradable("no such listing of another community")
    author = _actor_row(conn, listing["author_id"])
    trade_id = f"{member.username}:{key}"
    agreement_uri = f"{member.uri}/agreements/{quote(key, safe='')}"
    me = Party.local(member.username)
    proposal = _proposal(
        conn, listing, trade_id, Party.remote(author["uri"]), me, agreement_uri, due, cleared
    )
    known = find_trade(conn, trade_id) is not None
    trade = trades.propose(conn, proposal, me, now_us())
    if not known:
        offer = render_offer(terms_of(conn, trade), member.uri, author["uri"])
        publish.record_activity(
            conn, runtime, publish.local_actor(conn, member.actor_id), offer, public=False
        )
    return trade


def trade_id_for(agreement_uri: str) -> str:
    """The id under which we record a trade another server offered us."""
    return "fed:" + hashlib.sha256(agreement_uri.encode()).hexdigest()[:40]


async def receive_offer(runtime: Runtime, activity: Activity, actor: RowMapping) -> None:
    """An ``Offer(Agreement)`` for one of our listings: check it and record the trade."""
    agreement = activity.object
    if not isinstance(agreement, dict):
        raise OfferInvalid("an Offer embeds its Agreement")
    await runtime.db.write(_record_offer, runtime, activity, actor, agreement)


def _record_offer(
    conn: Connection,
    runtime: Runtime,
    activity: Activity,
    actor: RowMapping,
    agreement: dict[str, Any],
) -> None:
    listing = find_listing_row(conn, parse_listing_uri(agreement))
    if listing is None or not listing["local"] or listing["withdrawn_at_us"] is not None:
        raise ListingNotTradable("the Offer is not about a listing of ours")
    author = _actor_row(conn, listing["author_id"])
    if author["uri"] not in activity.to or author["uri"] == actor["uri"]:
        raise ListingNotTradable("an Offer goes to the listing's author, from someone else")
    option = option_for(listing["kind"], bool(listing["price_text"]))
    if parse_option(agreement) is not option:
        raise OfferInvalid(f"a trade on this listing is a {option.value}")
    agreement_uri = id_of(agreement) or ""
    due = parse_end_time_us(agreement)
    cleared = parse_cleared(agreement)
    parse_terms(agreement, listing_terms(listing, agreement_uri, option, due, cleared))
    currency = settlement.check_clearable(conn, listing, option) if cleared else None
    them, owner = Party.remote(actor["uri"]), Party.local(author["username"])
    trade_id = trade_id_for(agreement_uri)
    seen = notices.count_steps(conn, trade_id)
    proposal = _proposal(conn, listing, trade_id, owner, them, agreement_uri, due, currency)
    trade = trades.propose(conn, proposal, them, now_us())
    records.remember(conn, runtime, activity, actor["id"], agreement_uri)
    notices.tell_new_steps(conn, runtime, trade, seen)  # the listing's author hears of it


def _answer(conn: Connection, runtime: Runtime, activity: Activity, agreement_uri: str) -> None:
    from fediverse_share.trades import steps

    trade = find_trade_by_agreement(conn, agreement_uri)
    if trade is None:
        raise OfferInvalid("no trade for this Offer")
    if activity.actor != records.remote_party(trade):
        raise NotTheCounterparty("only the listing's author answers this Offer")
    if activity.type == "Accept":
        result = activity.raw.get("result")
        if isinstance(result, dict) and id_of(result.get("attributedTo")) != activity.actor:
            raise OfferInvalid("the agreed Agreement is attributed to who accepts it")
        parse_terms(result, terms_of(conn, trade))
        steps.apply_remote(conn, runtime, trade, "accept", activity.actor, None)
    else:
        reason = activity.raw.get("content")
        text = reason[:500] if isinstance(reason, str) and reason.strip() else None
        steps.apply_remote(conn, runtime, trade, "decline", activity.actor, text)


async def receive_answer(runtime: Runtime, activity: Activity) -> bool:
    """An ``Accept`` or ``Reject`` of one of our Offers: apply it; ``False`` if the
    object is not an Offer of ours (then it answers a Follow)."""
    agreement_uri = await runtime.db.read(records.find_our_offer, id_of(activity.object) or "")
    if agreement_uri is None:
        return False
    await runtime.db.write(_answer, runtime, activity, agreement_uri)
    return True
