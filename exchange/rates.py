"""Posted rates: versioned quotes for peer currencies, and exact conversion.

A community posts, for each peer currency, how many of its own units it gives for one
unit of the peer's currency, a fee in basis points, the largest amount one transfer
may carry and a validity. Each `set_rate` adds a new version; versions are immutable,
so a transfer that cites one is honoured at that version until its validity ends.

Conversion (`convert_in`) is what a community does with money arriving over a link:
``gross = round_half_even(amount_in x rate x 10^scale / 10^peer_scale)`` in its own
minor units, ``fee = round_half_even(gross x fee_bps / 10,000)``, ``out = gross - fee``.
The exact value minus ``gross`` is the rounding residue, kept per link and booked to the
``rounding`` account once it adds up to a whole minor unit (`exchange.clearing`).
`amount_in_for` inverts it: the least amount in whose ``out`` reaches a wanted amount
(a quote that fixes what the payee receives asks each community, payee's first, what
it needs). A quote that fixes what the payer sends runs `convert_within` forwards
instead, payer's side first: each community converts what arrives and passes ``out``
on, so the payee receives what the sent amount converts to at each posted rate, fees
taken off, rounded once per link by the same rule, never more (a fixed delivery of
that amount costs no more than was sent; tests/exchange/test_rates.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, select

from exchange import clearing_tables as ct
from exchange import sql
from exchange.errors import AmountOverQuote, InvalidAmount, InvalidRequest, NoRate, RateExpired
from exchange.money import BPS, MAX_AMOUNT_MINOR, apply_bps, check_amount, round_half_even

#: A posted rate is at most 10^12 / 1 and at least 1 / 10^12.
MAX_RATE_TERM = 10**12
#: The numerator of a fraction may have 25 digits: `render_rate` of a rate with 12
#: decimals (up to 10^24 / 10^12) must parse back (`check_rate` bounds the value).
_RATE = re.compile(r"([0-9]{1,25})(?:\.([0-9]{1,12}))?(?:/([0-9]{1,13}))?")


@dataclass(frozen=True, slots=True)
class PostedRate:
    """One version of a quote: ``rate`` own units per unit of ``peer_currency_code``."""

    id: str
    peer_currency_code: str
    version: int
    rate: Fraction
    fee_bps: int
    max_amount_minor: int
    valid_from_us: int
    valid_until_us: int

    def is_valid(self, now_us: int) -> bool:
        return self.valid_from_us <= now_us < self.valid_until_us


@dataclass(frozen=True, slots=True)
class Conversion:
    """What an amount arriving over a link is worth here, in minor units."""

    amount_in_minor: int
    gross_minor: int
    fee_minor: int
    residue: Fraction  # exact value minus gross: |residue| <= 1/2

    @property
    def out_minor(self) -> int:
        return self.gross_minor - self.fee_minor


def parse_rate(text: str) -> Fraction:
    """A rate typed by an operator: ``"2"``, ``"0.85"`` or ``"3/4"``; positive, exact."""
    match = _RATE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidRequest("a rate is a positive decimal (0.85) or fraction (3/4)")
    whole, decimals, denominator = match.groups()
    value = Fraction(whole + ("." + decimals if decimals else ""))
    if denominator is not None:
        if decimals or int(denominator) == 0:
            raise InvalidRequest("a fractional rate is two whole numbers: 3/4")
        value /= int(denominator)
    return check_rate(value)


def check_rate(value: Fraction) -> Fraction:
    if not Fraction(1, MAX_RATE_TERM) <= value <= MAX_RATE_TERM:
        raise InvalidRequest("a rate is between 1/10^12 and 10^12")
    if value.denominator > MAX_RATE_TERM or value.numerator > MAX_RATE_TERM**2:
        raise InvalidRequest("a rate has at most 12 decimal places")
    return value


def render_rate(rate: Fraction) -> str:
    """A rate as ``"num/den"`` (or a whole number): exact on the wire."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def minor_factor(rate: Fraction, scale: int, peer_scale: int) -> Fraction:
    """Own minor units per peer minor unit."""
    return rate * Fraction(10**scale, 10**peer_scale)


def convert_in(amount_in_minor: int, rate: PostedRate, scale: int, peer_scale: int) -> Conversion:
    """What ``amount_in_minor`` peer minor units are worth here (see the module docstring)."""
    check_amount(amount_in_minor)
    exact = minor_factor(rate.rate, scale, peer_scale) * amount_in_minor
    gross = round_half_even(exact.numerator, exact.denominator)
    fee = apply_bps(gross, rate.fee_bps)
    return Conversion(amount_in_minor, gross, fee, exact - gross)


def amount_in_for(out_minor: int, rate: PostedRate, scale: int, peer_scale: int) -> int:
    """The least amount in (peer minor units) whose conversion's ``out`` is at least
    ``out_minor``; raises `InvalidRequest` if no amount within the maximum reaches it."""
    check_amount(out_minor)

    def reaches(amount_in: int) -> bool:
        return convert_in(amount_in, rate, scale, peer_scale).out_minor >= out_minor

    if not reaches(MAX_AMOUNT_MINOR):
        raise InvalidRequest("the amount is larger than the ledger allows")
    # ``out`` never decreases as the amount grows (``gross`` does not, and each unit of
    # ``gross`` adds at most one unit of fee), so bisect: about 50 conversions, whatever
    # the rate and scales (walking from an estimate takes 10^8 steps at 10^-8 per unit).
    low, high = 0, MAX_AMOUNT_MINOR  # ``low`` does not reach it (or is 0); ``high`` does
    while high - low > 1:
        middle = (low + high) // 2
        if reaches(middle):
            high = middle
        else:
            low = middle
    return high


def convert_within(
    amount_in_minor: int, rate: PostedRate, scale: int, peer_scale: int
) -> Conversion:
    """`convert_in`, refused if ``gross`` is over the quote's maximum (`AmountOverQuote`)
    or nothing is left to go on (`InvalidAmount`): what a community does with a leg or a
    fixed-send quote arriving from its upstream."""
    conversion = convert_in(amount_in_minor, rate, scale, peer_scale)
    check_within(rate, conversion.gross_minor)
    if conversion.out_minor <= 0:
        raise InvalidAmount("the amount is too small to carry anything across this link")
    return conversion


def rate_from_row(row: Any) -> PostedRate:
    return PostedRate(
        id=row.id,
        peer_currency_code=row.peer_currency_code,
        version=row.version,
        rate=Fraction(int(row.rate_num), int(row.rate_den)),
        fee_bps=row.fee_bps,
        max_amount_minor=row.max_amount_minor,
        valid_from_us=row.valid_from_us,
        valid_until_us=row.valid_until_us,
    )


class _RateRow(NamedTuple):
    """A raw row of ``clearing_rates``: its columns in the table's order."""

    id: str
    peer_currency_code: str
    version: int
    rate_num: str
    rate_den: str
    fee_bps: int
    max_amount_minor: int
    valid_from_us: int
    valid_until_us: int


def set_rate(
    conn: Connection,
    peer_currency_code: str,
    rate: Fraction,
    *,
    fee_bps: int,
    max_amount_minor: int,
    valid_from_us: int,
    valid_until_us: int,
) -> PostedRate:
    """Post a new version of the quote for ``peer_currency_code``; raises `InvalidRequest`."""
    check_rate(rate)
    if type(fee_bps) is not int or not 0 <= fee_bps < BPS:
        raise InvalidRequest("a fee is 0 to 9,999 basis points")
    check_amount(max_amount_minor)
    if not valid_from_us < valid_until_us:
        raise InvalidRequest("a quote is valid for some time")
    r = ct.rates
    last = conn.execute(
        select(func.max(r.c.version)).where(r.c.peer_currency_code == peer_currency_code)
    ).scalar()
    version = (last or 0) + 1
    rate_id = f"{peer_currency_code}-{version}"
    conn.execute(
        r.insert().values(
            id=rate_id,
            peer_currency_code=peer_currency_code,
            version=version,
            rate_num=str(rate.numerator),
            rate_den=str(rate.denominator),
            fee_bps=fee_bps,
            max_amount_minor=max_amount_minor,
            valid_from_us=valid_from_us,
            valid_until_us=valid_until_us,
        )
    )
    return get_rate(conn, rate_id)


# Every quote and every leg from a peer reads a rate: built once and run on the DBAPI
# cursor (`exchange.sql`), as building the SELECT cost more than running it.
_R = ct.rates
_GET_RATE = select(_R).where(_R.c.id == bindparam("id"))
_CURRENT_RATE = (
    select(_R)
    .where(
        _R.c.peer_currency_code == bindparam("code"),
        _R.c.valid_from_us <= bindparam("now_us"),
        _R.c.valid_until_us > bindparam("now_us"),
    )
    .order_by(_R.c.version.desc())
    .limit(1)
)


def get_rate(conn: Connection, rate_id: str) -> PostedRate:
    """A posted version; raises `NoRate`."""
    rows = sql.fetch_all(conn, _GET_RATE, {"id": rate_id})
    if not rows:
        raise NoRate(f"no posted rate {rate_id!r}")
    return rate_from_row(_RateRow(*rows[0]))


def current_rate(conn: Connection, peer_currency_code: str, now_us: int) -> PostedRate:
    """The newest version valid now; raises `NoRate`."""
    params = {"code": peer_currency_code, "now_us": now_us}
    rows = sql.fetch_all(conn, _CURRENT_RATE, params)
    if not rows:
        raise NoRate(f"no rate is posted for {peer_currency_code} now")
    return rate_from_row(_RateRow(*rows[0]))


def rate_for(
    conn: Connection, peer_currency_code: str, cited_id: str | None, now_us: int
) -> PostedRate:
    """The version a transfer cites (honoured until its validity ends) or the current one.

    Raises `NoRate` (none, or a cited version of another currency), `RateExpired`.
    """
    if cited_id is None:
        return current_rate(conn, peer_currency_code, now_us)
    rate = get_rate(conn, cited_id)
    if rate.peer_currency_code != peer_currency_code:
        raise NoRate(f"quote {cited_id!r} is not for {peer_currency_code}")
    if not rate.is_valid(now_us):
        raise RateExpired(cited_id)
    return rate


def list_rates(conn: Connection, now_us: int) -> list[PostedRate]:
    """The current version for each peer currency that has one valid now."""
    r = ct.rates
    rows = conn.execute(
        select(r)
        .where(r.c.valid_from_us <= now_us, r.c.valid_until_us > now_us)
        .order_by(r.c.peer_currency_code, r.c.version.desc())
    )
    newest: dict[str, PostedRate] = {}
    for row in rows:
        newest.setdefault(row.peer_currency_code, rate_from_row(row))
    return list(newest.values())


def check_within(rate: PostedRate, gross_minor: int) -> None:
    """Refuse an amount over the quote's maximum (`AmountOverQuote`)."""
    if gross_minor > rate.max_amount_minor:
        raise AmountOverQuote(rate.id)
