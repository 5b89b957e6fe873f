"""How the price of a trade with another community is paid: through clearing, or outside.

The server of the member who proposes a trade on another community's priced listing
chooses when it records the trade: through clearing if it has a clearing path to the
listing's community that ends in the listing's currency
(`fediverse_share.clearing.directory.find_path`), otherwise outside the ledger. The
Offer says which (``settledThrough``); the listing author's server accepts "clearing"
only for a priced listing of its own and if it clears with some peer
(`check_clearable`), and records the same. On an offer the proposer pays, and the
price is what the author receives; on a need the author pays, and the price is what
they send from their own currency (a fixed-send quote: `Trade.price_is_sent`).

`find_due` is what the payer of a trade paid through clearing owes: the price, in the
listing's currency, to the payee as ``acct:name@domain``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, select

from exchange import peers
from exchange.errors import LedgerError
from exchange.money import Currency, parse_amount, render_amount
from exchange.settings import get_currency
from exchange.trade_terms import PRICED, PaymentOption, Trade
from fediverse_share import tables
from fediverse_share.clearing.directory import find_path
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.runtime import Runtime
from fediverse_share.trades.errors import OfferInvalid


@dataclass(frozen=True, slots=True)
class Due:
    """What the payer of a trade paid through clearing owes, and to whom: ``sent``, the
    amount the payer sends in their currency (a need), or else what the payee receives
    in theirs (an offer)."""

    username: str
    domain: str
    amount_minor: int
    currency: Currency
    sent: bool = False

    @property
    def destination(self) -> str:
        return f"acct:{self.username}@{self.domain}"

    @property
    def amount(self) -> str:
        return render_amount(self.amount_minor, self.currency)


def _clearable(listing: RowMapping, option: PaymentOption) -> bool:
    return option in PRICED and bool(listing["price_text"])


def recorded_currency(trade: Trade) -> Currency | None:
    """The currency a recorded trade is paid in through clearing, if it is."""
    if trade.clearing_scale is None:
        return None
    return Currency(trade.currency_code, trade.currency_code, trade.clearing_scale)


async def clearing_currency(
    runtime: Runtime, listing: RowMapping, domain: str, option: PaymentOption
) -> Currency | None:
    """The currency a new trade on ``listing`` (a remote one, whose author's community is
    ``domain``) is paid in through clearing; ``None``: outside the ledger, or no price."""
    if listing["local"] or not _clearable(listing, option):
        return None
    try:
        route = await find_path(runtime, domain)
        if route.currency.code != listing["currency_code"]:
            return None
        parse_amount(listing["price_text"], route.currency)
    except (Refusal, LedgerError):
        return None
    return route.currency


def check_clearable(conn: Connection, listing: RowMapping, option: PaymentOption) -> Currency:
    """Our currency, if an offered trade on ``listing`` can be paid through clearing here;
    raises `OfferInvalid`."""
    if not _clearable(listing, option):
        raise OfferInvalid("only a priced listing's price is paid through clearing")
    if not any(link.carries_new_transfers for link in peers.list_links(conn)):
        raise OfferInvalid("this community clears with no other: pay outside the ledger")
    return get_currency(conn)


def find_due(conn: Connection, trade: Trade, domain: str) -> Due | None:
    """What the payer owes for a trade paid through clearing (``None`` for any other);
    ``domain`` is ours."""
    if trade.clearing_scale is None or trade.price_minor is None:
        return None
    payee = trade.party(trade.payee)
    currency = Currency(trade.currency_code, trade.currency_code, trade.clearing_scale)
    price, sent = trade.price_minor, trade.price_is_sent
    if payee.account_id is not None:
        return Due(payee.account_id, domain, price, currency, sent)
    actors = tables.actors
    query = select(actors.c.username, actors.c.domain).where(actors.c.uri == payee.actor_uri)
    row = conn.execute(query).first()
    return None if row is None else Due(row.username, row.domain, price, currency, sent)
