"""A priced trade with another community, paid through clearing (DESIGN §4 "Trades", §5).

Such a trade (`Trade.is_cleared`) is priced in the currency of the listing's community
and its ``pay`` step cites the clearing transfer that paid the price. Nothing is booked
here for it: the transfer's legs booked it. Each community accepts the step only
against its own leg of that transfer (`check_clearing_payment`), inside the step's
database transaction. On an offer the price is what the payee receives (the transfer
was quoted to deliver it):

* the payer's community: its ``payer`` leg, committed, debiting the payer's account and
  delivering at least the price, in the trade's currency, to the payee's community;
* the payee's community: its ``payee`` leg, committed, crediting the payee's account at
  least the price (``deliver_minor``) and started by the payer's community.

On a need the price is what the payer sends, in the payer's own currency
(`Trade.price_is_sent`; the transfer was a fixed-send quote):

* the payer's community: its ``payer`` leg, committed, debiting the payer's account at
  least the price (a payer's leg is booked in our currency, which must be the
  trade's) and ending at the payee's community;
* the payee's community: its ``payee`` leg, committed, crediting the payee's account
  and started by the payer's community. What the payee received is in another
  currency than the price, at rates this community did not all set, so it cannot be
  held against the price. What it can check: when the payer's community is its direct
  upstream, the amount that came over that link (``amount_in_minor``, in the link's
  currency, which both sides of the link record and reconcile) is at least the price,
  in the trade's currency. Through a community in between, that amount is in the
  in-between currency and the price is taken on the payer's community's word, as the
  rest of the step is; each link's reconciliation still holds every hop to what it
  booked.

A clearing transfer pays one trade (``trades.payment_id`` is unique).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from sqlalchemy import Connection, select

from exchange import peers
from exchange.clearing import Leg, LegRole, LegState, find_leg
from exchange.errors import InvalidRequest, LedgerError, PaymentNotCleared
from exchange.money import Currency, parse_amount
from exchange.settings import get_currency
from exchange.trade_tables import trades
from exchange.trade_terms import Party, Trade

#: A trade's ``payment_id`` column holds at most this many characters.
MAX_TRANSFER_ID_CHARS = 300


def domain_of(party: Party) -> str:
    """The domain (host, and port if any) of a remote party's community."""
    return urlsplit(str(party.actor_uri)).netloc


def _delivered_minor(leg: Leg, trade: Trade) -> int:
    """What the payer's leg delivers, in the trade's currency (0 if another currency)."""
    assert trade.clearing_scale is not None
    currency = Currency(trade.currency_code, trade.currency_code, trade.clearing_scale)
    try:
        money = json.loads(leg.deliver)
        if money.get("currency") != currency.code:
            return 0
        return parse_amount(str(money.get("value")), currency)
    except (ValueError, AttributeError, LedgerError):
        return 0


def _pays_the_price(conn: Connection, leg: Leg, trade: Trade) -> bool:
    payer, payee = trade.party(trade.payer), trade.party(trade.payee)
    price = trade.price_minor or 0
    if leg.role is LegRole.PAYEE:
        if leg.credit_account_id != payee.account_id or not payer.is_remote:
            return False
        if leg.path[0] != domain_of(payer):
            return False
        if trade.price_is_sent:
            return _sent_over_link(conn, leg, trade) >= price
        return (leg.deliver_minor or 0) >= price
    if leg.role is not LegRole.PAYER or leg.debit_account_id != payer.account_id:
        return False
    if not payee.is_remote or leg.path[-1] != domain_of(payee):
        return False
    if trade.price_is_sent:
        return get_currency(conn).code == trade.currency_code and leg.gross_minor >= price
    return _delivered_minor(leg, trade) >= price


def _sent_over_link(conn: Connection, leg: Leg, trade: Trade) -> int:
    """What a payee's leg received from the payer's community, in the trade's currency,
    if that community is its direct upstream; the price itself through a community in
    between (it cannot be checked here: see the module docstring); 0 for anything else."""
    if len(leg.path) > 2:
        return trade.price_minor or 0
    assert leg.upstream_domain is not None
    link = peers.find_link(conn, leg.upstream_domain)
    if link is None or link.currency_code != trade.currency_code:
        return 0
    return leg.amount_in_minor or 0


def check_clearing_payment(conn: Connection, trade: Trade, transfer_id: str | None) -> str:
    """The transfer id, if it is a committed clearing transfer that pays ``trade``'s price
    to its payee (see the module docstring); raises `PaymentNotCleared`, and
    `InvalidRequest` for a trade not paid through clearing."""
    if not trade.is_cleared:
        raise InvalidRequest("only a trade paid through clearing cites a clearing transfer")
    if not transfer_id or len(transfer_id) > MAX_TRANSFER_ID_CHARS:
        raise PaymentNotCleared("this trade is paid through clearing: cite its transfer", trade.id)
    leg = find_leg(conn, transfer_id)
    if leg is None or leg.state is not LegState.COMMITTED:
        raise PaymentNotCleared(f"no committed clearing transfer {transfer_id!r} here", trade.id)
    if not _pays_the_price(conn, leg, trade):
        raise PaymentNotCleared(f"transfer {transfer_id!r} does not pay this trade", trade.id)
    query = select(trades.c.id).where(trades.c.payment_id == transfer_id, trades.c.id != trade.id)
    if conn.execute(query).first() is not None:
        raise PaymentNotCleared(f"transfer {transfer_id!r} paid another trade", trade.id)
    return transfer_id
