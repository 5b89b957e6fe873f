"""Demurrage arithmetic and calendar periods (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from exchange.demurrage import demurrage_fee_minor
from exchange.periods import DAY_US, Period, period_end_us, period_label, period_start_us


def us(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp()) * 1_000_000


def test_fee_is_charged_only_above_the_free_threshold():
    """Nothing is charged at or below the threshold; above it, the rate on the excess."""
    assert demurrage_fee_minor(10_000, 10_000, 100) == 0
    assert demurrage_fee_minor(-500, 0, 100) == 0
    assert demurrage_fee_minor(20_000, 10_000, 100) == 100
    assert demurrage_fee_minor(20_000, 10_000, 0) == 0


def test_fee_rounds_half_even_and_tiny_excesses_to_zero():
    """1 % of 50 minor units is 0.5, which rounds to 0; of 150 it is 1.5, which rounds to 2."""
    assert demurrage_fee_minor(50, 0, 100) == 0
    assert demurrage_fee_minor(150, 0, 100) == 2
    assert demurrage_fee_minor(250, 0, 100) == 2
    assert demurrage_fee_minor(49, 0, 100) == 0


@given(st.integers(0, 10**15), st.integers(0, 10**15), st.integers(0, 10_000))
def test_fee_never_takes_a_balance_below_the_threshold(balance, threshold, rate_bps):
    """The fee is at most the excess over the threshold, and never negative."""
    fee = demurrage_fee_minor(balance, threshold, rate_bps)
    assert 0 <= fee <= max(0, balance - threshold)


def test_months_are_calendar_months_in_utc():
    """Month periods start on the 1st at 00:00 UTC and have calendar lengths."""
    mid_feb = us(2024, 2, 15, 13, 30)
    assert period_start_us(mid_feb, Period.MONTH) == us(2024, 2, 1)
    assert period_end_us(mid_feb, Period.MONTH) == us(2024, 3, 1)
    assert period_end_us(us(2023, 12, 31, 23, 59), Period.MONTH) == us(2024, 1, 1)
    assert period_label(mid_feb, Period.MONTH) == "2024-02"


def test_days_are_utc_days():
    """Day periods run midnight to midnight UTC."""
    moment = us(2024, 2, 29, 23, 59, 59)
    assert period_start_us(moment, Period.DAY) == us(2024, 2, 29)
    assert period_end_us(moment, Period.DAY) == us(2024, 3, 1)
    assert period_label(moment, Period.DAY) == "2024-02-29"


@given(st.integers(0, 4_000_000_000 * 1_000_000), st.sampled_from(list(Period)))
def test_every_instant_lies_in_exactly_one_period(at_us, period):
    """start <= instant < end, and the next period starts where this one ends."""
    start, end = period_start_us(at_us, period), period_end_us(at_us, period)
    assert start <= at_us < end
    assert period_start_us(end, period) == end
    assert end - start >= DAY_US
