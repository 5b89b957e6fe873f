"""Posted rates: parsing, exact conversion and its inverse, versions and their validity."""

from __future__ import annotations

from fractions import Fraction

import pytest
import pytest_asyncio
from hypothesis import example, given
from hypothesis import strategies as st

from exchange.errors import AmountOverQuote, InvalidAmount, InvalidRequest, NoRate, RateExpired
from exchange.money import MAX_AMOUNT_MINOR
from exchange.rates import (
    MAX_RATE_TERM,
    PostedRate,
    amount_in_for,
    check_within,
    convert_in,
    convert_within,
    current_rate,
    get_rate,
    list_rates,
    parse_rate,
    rate_for,
    render_rate,
    set_rate,
)
from tests.exchange.communities import migrated_database, reset
from tests.exchange.conftest import T0

HOUR_US = 3_600 * 1_000_000
SCALES = st.sampled_from([0, 2, 3, 8])
FEES = st.sampled_from([0, 1, 50, 100, 5_000, 9_999]) | st.integers(0, 9_999)
RATES = st.sampled_from(
    [Fraction(1), Fraction(2), Fraction(17, 20), Fraction(3, 4), Fraction(1, 3), Fraction(22, 7)]
) | st.builds(Fraction, st.integers(1, 10**6), st.integers(1, 10**6))
#: Any rate `check_rate` accepts: terms up to 10^12, value within [10^-12, 10^12].
ANY_RATE = st.builds(
    Fraction, st.integers(1, MAX_RATE_TERM**2), st.integers(1, MAX_RATE_TERM)
).filter(lambda r: Fraction(1, MAX_RATE_TERM) <= r <= MAX_RATE_TERM)


#: The database tests share one database and so one event loop.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_db(tmp_path_factory):
    """One migrated database for this module's tests."""
    async with migrated_database(tmp_path_factory.mktemp("rates"), "rates") as database:
        yield database


@pytest_asyncio.fixture(loop_scope="module")
async def db(shared_db):
    """The shared database, emptied."""
    await shared_db.write(reset)
    return shared_db


def quote(rate: Fraction, fee_bps: int = 0, max_amount: int = MAX_AMOUNT_MINOR) -> PostedRate:
    return PostedRate("AAA-1", "AAA", 1, rate, fee_bps, max_amount, T0, T0 + HOUR_US)


def post(conn, code: str, rate: str, start: int, end: int, fee_bps: int = 0, max_amount=10**9):
    return set_rate(
        conn,
        code,
        parse_rate(rate),
        fee_bps=fee_bps,
        max_amount_minor=max_amount,
        valid_from_us=start,
        valid_until_us=end,
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", Fraction(2)),
        ("0.85", Fraction(17, 20)),
        ("3/4", Fraction(3, 4)),
        ("1/3", Fraction(1, 3)),
        (" 1.5 ", Fraction(3, 2)),
        ("0.000000000001", Fraction(1, 10**12)),
        ("1000000000000", Fraction(10**12)),
        ("6/4", Fraction(3, 2)),
    ],
)
def test_parse_rate_accepts_decimals_and_fractions(text, value):
    """Whole numbers, decimals up to 12 places and fractions parse to the exact value."""
    assert parse_rate(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.0",
        "0/5",
        "-1",
        "+1",
        "1e3",
        "abc",
        "1/0",
        "",
        "1.5/2",
        "0.1234567890123",  # 13 decimals
        "0.0000000000001",  # 10^-13: too small, and too many decimals
        "1000000000001",  # above 10^12
        "1/10000000000000",  # denominator above 10^12
        "NaN",
        "inf",
        "1,5",
        "١",  # an Arabic-Indic digit one
    ],
)
def test_parse_rate_refuses_anything_else(text):
    """Zero, negatives, exponents, words, a zero denominator, too many decimals, out of range."""
    with pytest.raises(InvalidRequest):
        parse_rate(text)


def test_parse_rate_refuses_what_is_not_a_string():
    """A number or None where a rate string is expected is refused, not crashed on."""
    for value in (None, 2, 0.5):
        with pytest.raises(InvalidRequest):
            parse_rate(value)  # type: ignore[arg-type]


@given(ANY_RATE)
@example(Fraction(10**24 - 1, 10**12))
@example(Fraction(123456789012345, 10**12))
def test_every_acceptable_rate_survives_the_wire(rate):
    """What `render_rate` sends, `parse_rate` reads back exactly, for every valid rate."""
    assert parse_rate(render_rate(rate)) == rate


@given(st.integers(1, MAX_AMOUNT_MINOR), RATES, FEES, SCALES, SCALES)
@example(1, Fraction(1, 2), 0, 0, 0)  # 0.5 rounds to 0 (even)
@example(3, Fraction(1, 2), 0, 0, 0)  # 1.5 rounds to 2 (even)
def test_convert_in_is_exact_half_even_with_the_fee_on_gross(amount, rate, fee_bps, scale, peer):
    """gross is the exact value rounded half-even, |residue| <= 1/2, the fee is fee_bps of
    gross (half-even) and out is gross minus the fee."""
    c = convert_in(amount, quote(rate, fee_bps), scale, peer)
    exact = Fraction(amount) * rate * 10**scale / 10**peer
    assert c.amount_in_minor == amount
    assert c.gross_minor == round(exact)  # Fraction rounds half to even
    assert c.residue == exact - c.gross_minor
    assert abs(c.residue) <= Fraction(1, 2)
    assert c.fee_minor == round(Fraction(c.gross_minor * fee_bps, 10_000))
    assert c.out_minor == c.gross_minor - c.fee_minor
    assert 0 <= c.fee_minor <= c.gross_minor and c.out_minor >= 0


@given(st.integers(1, MAX_AMOUNT_MINOR - 1), st.integers(0, 10**6), RATES, FEES, SCALES, SCALES)
def test_convert_in_is_monotone_in_the_amount(amount, more, rate, fee_bps, scale, peer):
    """More in never gives less gross or less out, one unit more or any amount more."""
    q = quote(rate, fee_bps)
    low = convert_in(amount, q, scale, peer)
    for bigger in (amount + 1, min(amount + more, MAX_AMOUNT_MINOR)):
        high = convert_in(bigger, q, scale, peer)
        assert high.gross_minor >= low.gross_minor
        assert high.out_minor >= low.out_minor


def test_convert_in_refuses_bad_amounts():
    """Zero, negative, too large or non-integer amounts are not converted."""
    for amount in (0, -1, MAX_AMOUNT_MINOR + 1, True, 1.0):
        with pytest.raises(InvalidRequest):
            convert_in(amount, quote(Fraction(2)), 2, 2)  # type: ignore[arg-type]


@given(st.integers(1, 10**12), RATES, FEES, SCALES, SCALES)
@example(1, Fraction(1), 0, 0, 8)  # 10^-8 own units per unit in: 5 x 10^7 units in
@example(1, Fraction(1), 9_999, 0, 8)
@example(10**12, Fraction(1, 10**6), 0, 0, 8)  # beyond what the ledger can carry
def test_amount_in_for_is_the_least_amount_that_delivers(target, rate, fee_bps, scale, peer):
    """amount_in_for gives the least amount a with out(a) >= target (so out(a - 1) <
    target), or refuses when even the largest amount cannot deliver the target."""
    q = quote(rate, fee_bps)

    def out(amount: int) -> int:
        return convert_in(amount, q, scale, peer).out_minor

    if out(MAX_AMOUNT_MINOR) < target:
        with pytest.raises(InvalidRequest):
            amount_in_for(target, q, scale, peer)
        return
    amount = amount_in_for(target, q, scale, peer)
    assert 1 <= amount <= MAX_AMOUNT_MINOR
    assert out(amount) >= target
    assert amount == 1 or out(amount - 1) < target


#: One link of a path: the receiving community's posted rate, fee and scale (the
#: sender's scale is the previous hop's).
HOPS = st.lists(st.tuples(RATES, FEES, SCALES), min_size=1, max_size=4)


@given(st.integers(1, 10**12), SCALES, HOPS)
@example(3, 0, [(Fraction(1, 2), 0, 0)])  # 1.5 rounds to 2: half a unit over, booked
@example(1, 8, [(Fraction(1), 9_999, 0)])  # nothing left to carry
@example(10**12, 0, [(Fraction(10**6), 0, 8)])  # over the ledger's maximum
def test_a_fixed_send_delivers_what_it_converts_to_and_no_more(sent, payer_scale, hops):
    """Sent forward along a path (`convert_within` at each community, as a fixed-send
    quote and its legs do): at each link out + fee + residue is exactly what arrived
    times the rate (the residue, |r| <= 1/2, goes to that link's rounding), so out never
    exceeds the rounded conversion; and a fixed delivery of what arrives costs at most
    what was sent."""
    amount, scale, conversions = sent, payer_scale, []
    try:
        for rate, fee_bps, own_scale in hops:
            c = convert_within(amount, quote(rate, fee_bps), own_scale, scale)
            conversions.append(c)
            amount, scale = c.out_minor, own_scale
    except (InvalidAmount, AmountOverQuote):  # nothing left to carry, or too much: refused
        return
    arrived, scale = sent, payer_scale
    for (rate, _, own_scale), c in zip(hops, conversions, strict=True):
        exact = Fraction(arrived) * rate * 10**own_scale / 10**scale
        assert c.out_minor + c.fee_minor + c.residue == exact
        assert c.out_minor <= c.gross_minor == round(exact) and abs(c.residue) <= Fraction(1, 2)
        arrived, scale = c.out_minor, own_scale
    needed = arrived
    for (rate, fee_bps, own_scale), previous in zip(
        reversed(hops), [payer_scale, *[h[2] for h in hops]][-2::-1], strict=True
    ):
        needed = amount_in_for(needed, quote(rate, fee_bps), own_scale, previous)
    assert needed <= sent


def test_convert_within_refuses_over_the_maximum_and_what_carries_nothing():
    """A conversion over the quote's maximum, or one the fee leaves nothing of, is refused."""
    with pytest.raises(AmountOverQuote):
        convert_within(51, quote(Fraction(2), max_amount=100), 2, 2)
    assert convert_within(50, quote(Fraction(2), max_amount=100), 2, 2).out_minor == 100
    with pytest.raises(InvalidAmount):
        convert_within(1, quote(Fraction(1, 3)), 2, 2)


@in_module_loop
async def test_setting_a_rate_twice_gives_two_immutable_versions(db):
    """Each set_rate is a new version with its own id; the first stays as it was posted."""
    first = await db.write(post, "AAA", "0.85", T0, T0 + 10 * HOUR_US, fee_bps=30)
    second = await db.write(post, "AAA", "3/4", T0 + HOUR_US, T0 + 20 * HOUR_US)
    other = await db.write(post, "BBB", "2", T0, T0 + HOUR_US)
    assert (first.id, first.version, first.rate, first.fee_bps) == (
        "AAA-1",
        1,
        Fraction(17, 20),
        30,
    )
    assert (second.id, second.version, second.rate) == ("AAA-2", 2, Fraction(3, 4))
    assert (other.id, other.version) == ("BBB-1", 1)
    assert await db.read(get_rate, "AAA-1") == first
    with pytest.raises(NoRate):
        await db.read(get_rate, "AAA-3")


@in_module_loop
async def test_set_rate_refuses_bad_quotes(db):
    """A rate out of range, a fee of 100 % or more, a bad maximum or an empty validity."""
    good = {"fee_bps": 0, "max_amount_minor": 100, "valid_from_us": T0, "valid_until_us": T0 + 1}
    for rate, changes in [
        (Fraction(0), {}),
        (Fraction(10**13), {}),
        (Fraction(1), {"fee_bps": 10_000}),
        (Fraction(1), {"fee_bps": -1}),
        (Fraction(1), {"max_amount_minor": 0}),
        (Fraction(1), {"valid_until_us": T0}),
    ]:
        with pytest.raises(InvalidRequest):
            await db.write(set_rate, "AAA", rate, **{**good, **changes})
    assert await db.read(list_rates, T0) == []


@in_module_loop
async def test_current_rate_is_the_newest_version_valid_now(db):
    """Before version 2 starts, version 1 is current; then version 2; none after both end."""
    await db.write(post, "AAA", "0.85", T0, T0 + 10 * HOUR_US)
    await db.write(post, "AAA", "3/4", T0 + HOUR_US, T0 + 5 * HOUR_US)
    assert (await db.read(current_rate, "AAA", T0)).version == 1
    assert (await db.read(current_rate, "AAA", T0 + HOUR_US)).version == 2
    assert (await db.read(current_rate, "AAA", T0 + 5 * HOUR_US)).version == 1
    assert [r.id for r in await db.read(list_rates, T0 + HOUR_US)] == ["AAA-2"]
    for when in (T0 - 1, T0 + 10 * HOUR_US):
        with pytest.raises(NoRate):
            await db.read(current_rate, "AAA", when)
    with pytest.raises(NoRate):
        await db.read(current_rate, "BBB", T0)


@in_module_loop
async def test_a_cited_version_is_honoured_until_its_validity_ends(db):
    """rate_for gives the cited older version while it is valid, though a newer one is
    current, and raises RateExpired from the instant its validity ends."""
    await db.write(post, "AAA", "0.85", T0, T0 + 3 * HOUR_US)
    await db.write(post, "AAA", "3/4", T0 + HOUR_US, T0 + 10 * HOUR_US)
    late = T0 + 3 * HOUR_US - 1
    assert (await db.read(rate_for, "AAA", "AAA-1", late)).rate == Fraction(17, 20)
    assert (await db.read(rate_for, "AAA", None, late)).rate == Fraction(3, 4)
    with pytest.raises(RateExpired):
        await db.read(rate_for, "AAA", "AAA-1", T0 + 3 * HOUR_US)
    with pytest.raises(RateExpired):  # cited before it starts: not valid either
        await db.read(rate_for, "AAA", "AAA-2", T0)
    assert (await db.read(rate_for, "AAA", "AAA-2", T0 + 3 * HOUR_US)).version == 2


@in_module_loop
async def test_a_cited_rate_of_another_currency_or_unknown_is_no_rate(db):
    """Citing a quote for BBB to convert AAA, or a quote that does not exist, is NoRate."""
    await db.write(post, "AAA", "2", T0, T0 + HOUR_US)
    await db.write(post, "BBB", "2", T0, T0 + HOUR_US)
    for cited in ("BBB-1", "AAA-9", "nothing"):
        with pytest.raises(NoRate):
            await db.read(rate_for, "AAA", cited, T0)


def test_check_within_refuses_only_amounts_over_the_maximum():
    """The maximum itself is allowed; one minor unit more is AmountOverQuote."""
    q = quote(Fraction(1), max_amount=5_000)
    check_within(q, 5_000)
    with pytest.raises(AmountOverQuote) as refused:
        check_within(q, 5_001)
    assert refused.value.rate_id == "AAA-1"
