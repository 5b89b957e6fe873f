"""Currency and amounts: integers in the smallest unit, never floats.

An amount is an ``int`` of *minor units* (cents, if the scale is 2). On the wire it is a
decimal string in the currency's units (``"12.50"``). Parsing is strict: plain ASCII
digits, an optional ``-`` where the caller allows it, at most ``scale`` decimals, no
exponent, no ``NaN``/``inf``, no separators, and never beyond `MAX_AMOUNT_MINOR`.

There is one rounding rule in the ledger, half-even ("banker's rounding"), and every
computed amount goes through `round_half_even` with exact integers (or a `Fraction` /
`Decimal` rate converted exactly), so that the same inputs give the same minor units on
every machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from exchange.errors import InvalidAmount, InvalidRequest

#: The largest amount a single transfer, limit or setting may carry (10^15 minor units).
MAX_AMOUNT_MINOR = 10**15
#: Basis points in one whole: 10,000 bps = 100 %.
BPS = 10_000
MAX_SCALE = 8

_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")


@dataclass(frozen=True, slots=True)
class Currency:
    """A community's currency: ``code`` (e.g. ``KRZ``), display ``name``, decimal ``scale``."""

    code: str
    name: str
    scale: int

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise InvalidRequest("a currency code is 2-16 capital letters or digits")
        if not 0 < len(self.name) <= 100:
            raise InvalidRequest("a currency name is 1-100 characters")
        if not 0 <= self.scale <= MAX_SCALE:
            raise InvalidRequest(f"a currency scale is 0-{MAX_SCALE} decimal places")


def check_amount(amount_minor: int, *, allow_zero: bool = False) -> int:
    """Return ``amount_minor`` if it is a positive (or zero) int within the maximum."""
    if type(amount_minor) is not int:  # bool is an int subclass: refuse it too
        raise InvalidAmount("an amount must be an integer number of minor units")
    if amount_minor < 0 or (amount_minor == 0 and not allow_zero):
        raise InvalidAmount("an amount must be greater than zero")
    if amount_minor > MAX_AMOUNT_MINOR:
        raise InvalidAmount("the amount is larger than the ledger allows")
    return amount_minor


def parse_amount(text: str, currency: Currency, *, allow_negative: bool = False) -> int:
    """Parse a decimal string in the currency's units into minor units (exact)."""
    match = _AMOUNT.fullmatch(text) if len(text) <= 40 else None
    if match is None:
        raise InvalidAmount(f"not a decimal amount: {text[:40]!r}")
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if len(fraction) > currency.scale:
        raise InvalidAmount(f"{currency.code} has at most {currency.scale} decimal places")
    unit: int = 10**currency.scale
    magnitude = int(whole) * unit + int(fraction.ljust(currency.scale, "0") or "0")
    if magnitude > MAX_AMOUNT_MINOR:
        raise InvalidAmount("the amount is larger than the ledger allows")
    if sign and magnitude and not allow_negative:
        raise InvalidAmount("the amount must not be negative")
    return -magnitude if sign else magnitude


def render_amount(amount_minor: int, currency: Currency) -> str:
    """Render minor units as a decimal string with exactly ``scale`` decimals."""
    sign = "-" if amount_minor < 0 else ""
    unit: int = 10**currency.scale
    whole, fraction = divmod(abs(amount_minor), unit)
    if currency.scale == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{currency.scale}d}"


def round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, ties to even."""
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)  # floor division
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def apply_bps(amount_minor: int, rate_bps: int) -> int:
    """``amount_minor x rate_bps / 10,000``, rounded half-even."""
    return round_half_even(amount_minor * rate_bps, BPS)


def apply_rate(amount_minor: int, rate: Fraction | Decimal | int) -> int:
    """``amount_minor x rate`` for an exact rate, rounded half-even."""
    exact = Fraction(rate) * amount_minor
    return round_half_even(exact.numerator, exact.denominator)
