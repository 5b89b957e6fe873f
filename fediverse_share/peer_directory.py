"""What operators and members are shown about the communities we peer with, and the
rates operators post for them.

A `PeerView` is one link with its clearing account ``peer:<domain>`` (none while a
peer's request waits for our operator's consent) and the two posted rates that matter
to a member: ours for the peer's currency (what we give for one of its units) and, if
the peer has pushed one (``clearing_peer_rates``), its own for ours. The CLI's ``peer
list`` and the exchange API's ``/peers`` and ``/admin/peers`` read them here.

`post_rate_once` is how both the CLI's ``rates set`` and ``POST /admin/rates`` post a
rate: the terms are checked, and the same terms as the current version posted again
within `REPOST_WINDOW_US` of it return that version (a retried request posts once).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from exchange import accounts, peers, rates
from exchange import clearing_tables as ct
from exchange.errors import InvalidRequest
from exchange.money import MAX_AMOUNT_MINOR, Currency, parse_amount
from exchange.settings import get_currency
from fediverse_share.clearing import directory, peering
from fediverse_share.clock import now_us
from fediverse_share.runtime import Runtime

#: A posted rate is valid for at most about a year; a new version replaces it any time.
MAX_VALID_HOURS = 24 * 366
DEFAULT_VALID_HOURS = 24
REPOST_WINDOW_US = 5 * 60 * 1_000_000
_CURRENCY_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")
#: A rate as operators type it (`exchange.rates.parse_rate` checks its value).
RATE_PATTERN = r"[0-9]{1,25}(\.[0-9]{1,12})?(/[0-9]{1,13})?"


@dataclass(frozen=True, slots=True)
class RateTerms:
    """A rate as an operator types it: ``rate`` of our units for one ``peer_currency``."""

    peer_currency: str
    rate: str
    fee_bps: int = 0
    valid_hours: object = DEFAULT_VALID_HOURS
    max_amount: str | None = None  # in our currency; None for the ledger's maximum


@dataclass(frozen=True, slots=True)
class PeerView:
    link: peers.Link
    account: accounts.Account | None  # None until our operator consents
    our_rate: rates.PostedRate | None  # our units per one of the peer's
    their_rate: rates.PostedRate | None  # the peer's units per one of ours

    @property
    def currency(self) -> Currency:
        code = self.link.currency_code
        return Currency(code, code, self.link.currency_scale)


def find_cited_rate(conn: Connection, domain: str, rate_id: str) -> rates.PostedRate | None:
    """The quote ``domain`` pushed to us that a transfer cites as ``rate_id`` (the last
    segment of its URI), if we hold it: only a peer's own quotes reach us."""
    r = ct.peer_rates
    for row in conn.execute(select(r).where(r.c.domain == domain)):
        if rate_id and row.uri.rsplit("/", 1)[-1] == rate_id:
            return directory.peer_rate_from_row(row)
    return None


def _view(conn: Connection, link: peers.Link, code: str, now_us: int) -> PeerView:
    ours = rates.list_rates(conn, now_us)
    our_rate = next((r for r in ours if r.peer_currency_code == link.currency_code), None)
    account = accounts.find_account(conn, link.account_id)
    return PeerView(
        link, account, our_rate, directory.find_peer_rate(conn, link.domain, code, now_us)
    )


def list_peer_views(conn: Connection, now_us: int) -> list[PeerView]:
    """Every link, by domain (including a peer's request we have not answered yet)."""
    code = get_currency(conn).code
    return [_view(conn, link, code, now_us) for link in peers.list_links(conn)]


def get_peer_view(conn: Connection, domain: str, now_us: int) -> PeerView:
    """The link with ``domain``; raises `UnknownPeer`."""
    return _view(conn, peers.get_link(conn, domain), get_currency(conn).code, now_us)


def parse_valid_hours(value: object) -> float:
    """How long a posted rate is valid: more than 0 hours, at most `MAX_VALID_HOURS`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest("valid_hours is a number of hours")
    if not (math.isfinite(value) and 0 < value <= MAX_VALID_HOURS):
        raise InvalidRequest(f"a rate is valid for more than 0 and at most {MAX_VALID_HOURS} hours")
    return float(value)


def _newest(conn: Connection, peer_currency: str) -> rates.PostedRate | None:
    r = ct.rates
    row = conn.execute(
        select(r).where(r.c.peer_currency_code == peer_currency).order_by(r.c.version.desc())
    ).first()
    return None if row is None else rates.rate_from_row(row)


def post_rate_once(
    conn: Connection, runtime: Runtime, terms: RateTerms
) -> tuple[rates.PostedRate, Currency]:
    """Post ``terms`` as a new version (pushed to the peers), unless they repeat the
    current version's within `REPOST_WINDOW_US`; raises `InvalidRequest`, `InvalidAmount`."""
    currency = get_currency(conn)
    hours = parse_valid_hours(terms.valid_hours)
    code = terms.peer_currency.upper()
    if not _CURRENCY_CODE.fullmatch(code):
        raise InvalidRequest("a currency code is 2 to 16 letters and digits, a letter first")
    if not re.fullmatch(RATE_PATTERN, terms.rate):
        raise InvalidRequest("a rate is a positive decimal (0.85) or fraction (3/4)")
    maximum = MAX_AMOUNT_MINOR
    if terms.max_amount is not None:
        maximum = parse_amount(terms.max_amount, currency)
    validity_us = int(hours * peering.ONE_HOUR_US)
    wanted = (rates.parse_rate(terms.rate), terms.fee_bps, maximum, validity_us)
    current = _newest(conn, code)
    if current is not None and now_us() - current.valid_from_us < REPOST_WINDOW_US:
        validity = current.valid_until_us - current.valid_from_us
        if (current.rate, current.fee_bps, current.max_amount_minor, validity) == wanted:
            return current, currency
    posted = peering.post_rate(
        conn, runtime, code, terms.rate, fee_bps=terms.fee_bps, valid_hours=hours,
        max_amount=terms.max_amount,
    )  # fmt: skip
    return posted, currency
