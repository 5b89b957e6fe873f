"""Amounts, currencies and the one rounding rule (pure, no database)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.errors import InvalidAmount, InvalidRequest
from exchange.money import (
    MAX_AMOUNT_MINOR,
    Currency,
    apply_bps,
    apply_rate,
    check_amount,
    parse_amount,
    render_amount,
    round_half_even,
)

KRZ = Currency("KRZ", "Kreuzer", 2)
HOUR = Currency("HOUR", "Hour", 0)


@pytest.mark.parametrize(
    ("text", "minor"),
    [("12.50", 1250), ("12.5", 1250), ("12", 1200), ("0.01", 1), ("007.10", 710), ("0", 0)],
)
def test_parse_amount_reads_decimal_strings_exactly(text, minor):
    """Decimal strings become exact minor units, with fewer decimals than the scale too."""
    assert parse_amount(text, KRZ) == minor


@pytest.mark.parametrize(
    "text",
    ["12.505", "1e3", "NaN", "inf", "-inf", "1,000", " 12", "12 ", "+5", ".5", "5.", "", "١٢",
     "0x10", "12.50.1", "--1", "1_000"],
)  # fmt: skip
def test_parse_amount_refuses_anything_but_plain_decimals(text):
    """Too many decimals, exponents, NaN, infinities, signs, separators are refused."""
    with pytest.raises(InvalidAmount):
        parse_amount(text, KRZ)


def test_parse_amount_refuses_negatives_unless_allowed():
    """A negative amount is refused unless the caller allows it."""
    with pytest.raises(InvalidAmount):
        parse_amount("-1.00", KRZ)
    assert parse_amount("-1.00", KRZ, allow_negative=True) == -100


def test_parse_amount_refuses_amounts_beyond_the_maximum():
    """Nothing above MAX_AMOUNT_MINOR gets through, whatever the scale."""
    assert parse_amount(render_amount(MAX_AMOUNT_MINOR, KRZ), KRZ) == MAX_AMOUNT_MINOR
    with pytest.raises(InvalidAmount):
        parse_amount("10000000000000.01", KRZ)
    with pytest.raises(InvalidAmount):
        parse_amount("9" * 39, HOUR)


def test_render_amount_uses_the_scale():
    """Rendering shows exactly the currency's decimals."""
    assert render_amount(1250, KRZ) == "12.50"
    assert render_amount(-5, KRZ) == "-0.05"
    assert render_amount(7, HOUR) == "7"


@given(st.integers(-MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR), st.integers(0, 8))
def test_render_then_parse_round_trips(minor, scale):
    """render_amount and parse_amount are inverse for every amount and scale."""
    currency = Currency("ABC", "abc", scale)
    assert parse_amount(render_amount(minor, currency), currency, allow_negative=True) == minor


def test_check_amount_takes_positive_integers_within_the_maximum():
    """Zero, negatives, floats, bools and too-large amounts are refused."""
    assert check_amount(1) == 1
    for bad in (0, -1, MAX_AMOUNT_MINOR + 1, 1.0, True):
        with pytest.raises(InvalidAmount):
            check_amount(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (-7, 2, -4), (1, 3, 0), (2, 3, 1), (-2, 3, -1), (0, 7, 0)],
)
def test_round_half_even_breaks_ties_to_even(num, den, expected):
    """Half-way cases round to the even neighbour, others to the nearest."""
    assert round_half_even(num, den) == expected


@given(st.integers(-(10**18), 10**18), st.integers(1, 10**6))
def test_round_half_even_agrees_with_decimal(num, den):
    """Integer half-even rounding equals Decimal's ROUND_HALF_EVEN."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(num) / Decimal(den)
        assert round_half_even(num, den) == int(exact.quantize(Decimal(1), ROUND_HALF_EVEN))


def test_rates_are_exact():
    """Basis points and rational rates round once, half-even."""
    assert apply_bps(10_000, 5_000) == 5_000
    assert apply_bps(1, 5_000) == 0  # 0.5 -> 0
    assert apply_bps(3, 5_000) == 2  # 1.5 -> 2
    assert apply_rate(100, Fraction(1, 3)) == 33
    assert apply_rate(250, Decimal("0.01")) == 2  # 2.5 -> 2


def test_currency_is_validated():
    """A currency needs a code, a name and a sane scale."""
    for code, name, scale in (("k", "x", 2), ("KRZ", "", 2), ("KRZ", "x", 9), ("KRZ", "x", -1)):
        with pytest.raises(InvalidRequest):
            Currency(code, name, scale)
