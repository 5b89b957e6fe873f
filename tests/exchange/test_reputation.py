"""Reputation: the documented formula, its properties (hypothesis), and the stored reviews."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from exchange.accounts import open_member_account
from exchange.reputation import (
    PRIOR_MEAN,
    PRIOR_WEIGHT,
    Rating,
    TradeFact,
    buyer_reputation,
    get_reputation,
    score_ratings,
    standing_weight,
    to_decimal,
)
from exchange.reviews import (
    REVIEW_WINDOW_US,
    RemoteReview,
    list_reviews_about,
    store_remote_review,
    write_review,
)
from exchange.trade_store import list_trades_of
from exchange.trade_terms import Party, PaymentOption
from tests.exchange.conftest import T0
from tests.exchange.trading import proposal, settle

REAL = [f"m{i}" for i in range(6)]
PUPPETS = [f"p{i}" for i in range(5)]
S = Party.local("m0")
DORA = Party.remote("https://b.example/users/dora")


@st.composite
def worlds(draw, names=REAL, prefix="t"):
    """Random qualifying trades among ``names`` and random reviews of them."""
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(names), st.sampled_from(names)).filter(
                lambda p: p[0] != p[1]
            ),
            max_size=20,
        )
    )
    facts, ratings = [], []
    for n, (a, b) in enumerate(pairs):
        fact = TradeFact(f"{prefix}{n}", Party.local(a), Party.local(b))
        facts.append(fact)
        for reviewer, subject in ((a, b), (b, a)):
            rating = draw(st.none() | st.integers(1, 5))
            if rating is not None:
                ratings.append(
                    Rating(fact.trade_id, Party.local(reviewer), Party.local(subject), rating)
                )
    return facts, ratings


def score(subject, world):
    facts, ratings = world
    return score_ratings(subject, ratings, facts).score


def test_the_documented_examples():
    """Nobody's review: 3.00; one 5 from a full-standing partner: 3.67; from a loner: 3.22."""
    assert score(S, ([], [])) == Decimal("3.00")
    loner = ([TradeFact("t", Party.local("m1"), S)], [Rating("t", Party.local("m1"), S, 5)])
    assert score(S, loner) == Decimal("3.22")
    others = [TradeFact(f"o{i}", Party.local("m1"), Party.local(f"x{i}")) for i in range(3)]
    assert score(S, (loner[0] + others, loner[1])) == Decimal("3.67")
    assert [standing_weight(n) for n in range(6)] == [Fraction(k, 4) for k in (1, 2, 3, 4, 4, 4)]


def test_the_examples_in_docs_ledger():
    """The table of docs/LEDGER.md "Reviews and reputation", row by row."""
    sock, full, half = Party.local("sock"), Party.local("full"), Party.local("half")
    sock_trades = [TradeFact(f"s{i}", sock, S) for i in range(10)]
    sock_fives = [Rating(f"s{i}", sock, S, 5) for i in range(10)]
    standing = [TradeFact(f"f{i}", full, Party.local(f"x{i}")) for i in range(3)]
    standing += [TradeFact("h0", half, Party.local("x0"))]
    trades = [*sock_trades, *standing, TradeFact("tf", full, S), TradeFact("th", half, S)]
    rows = [
        ([], "3.00"),
        (sock_fives[:1], "3.22"),
        (sock_fives, "3.22"),
        ([Rating("tf", full, S, 5)], "3.67"),
        ([Rating("tf", full, S, 5), Rating("th", half, S, 4)], "3.71"),
        ([*sock_fives, Rating("tf", full, S, 1)], "2.54"),
    ]
    for ratings, expected in rows:
        assert score(S, (trades, ratings)) == Decimal(expected), ratings


@given(worlds())
def test_the_score_stays_between_one_and_five(world):
    """A weighted mean of ratings 1..5 and the prior 3 is within 1..5, for every member."""
    for name in REAL:
        assert Decimal(1) <= score(Party.local(name), world) <= Decimal(5)


@given(worlds(), st.randoms(use_true_random=False))
def test_the_order_of_facts_does_not_matter(world, rnd):
    """Shuffling the trades and reviews gives the same score and the same voices."""
    facts, ratings = list(world[0]), list(world[1])
    rnd.shuffle(facts)
    rnd.shuffle(ratings)
    for name in REAL:
        subject = Party.local(name)
        assert score_ratings(subject, ratings, facts) == score_ratings(subject, world[1], world[0])


@given(worlds(), worlds(PUPPETS, "p"))
def test_puppets_trading_among_themselves_change_no_real_members_score(real, puppets):
    """Accounts that trade and review only each other leave every real member's score as
    their real counterparties make it."""
    both = (real[0] + puppets[0], real[1] + puppets[1])
    for name in REAL:
        assert score(Party.local(name), both) == score(Party.local(name), real)


@given(worlds(), st.integers(1, 6), worlds(PUPPETS, "p"))
def test_a_second_account_weighs_as_one_loner_however_often_it_trades(real, count, puppets):
    """A second account trading only with S, any number of times with five stars, moves S's
    score exactly as one five-star review from a reviewer with no other partner."""
    sock = Party.local("sock")
    facts = [TradeFact(f"s{i}", sock, S) for i in range(count)]
    ratings = [Rating(f"s{i}", sock, S, 5) for i in range(count)]
    many = (real[0] + puppets[0] + facts, real[1] + puppets[1] + ratings)
    once = (real[0] + facts[:1], real[1] + ratings[:1])
    assert score(S, many) == score(S, once)
    result = score_ratings(S, many[1], many[0])
    (voice,) = [v for v in result.voices if v.reviewer == sock]
    assert voice.weight == Fraction(1, 4)


@given(worlds(), st.data())
def test_a_better_rating_never_lowers_the_score(world, data):
    """Raising one rating of S (keeping everything else) does not lower S's score."""
    facts, ratings = world
    about = [i for i, r in enumerate(ratings) if r.subject == S]
    if not about:
        return
    i = data.draw(st.sampled_from(about))
    better = list(ratings)
    better[i] = Rating(ratings[i].trade_id, ratings[i].reviewer, S, min(5, ratings[i].rating + 1))
    assert score(S, (facts, better)) >= score(S, (facts, ratings))


def test_reviews_of_trades_that_do_not_qualify_are_ignored():
    """A rating of a trade that is not a qualifying trade between the two is not counted."""
    m1 = Party.local("m1")
    facts = [TradeFact("t", m1, Party.local("m2"))]
    assert score(S, (facts, [Rating("t", m1, S, 5), Rating("u", m1, S, 5)])) == Decimal("3.00")


def test_rounding_is_half_even_to_two_decimals():
    """Exact fractions are rounded once, half-even."""
    assert to_decimal(Fraction(3125, 1000)) == Decimal("3.12")
    assert to_decimal(Fraction(3135, 1000)) == Decimal("3.14")
    assert PRIOR_MEAN == 3 and PRIOR_WEIGHT == 2


# --- on the stored trades and reviews ---------------------------------------------


async def test_only_visible_reviews_count_and_the_result_shows_them(ledger):
    """A lone review counts once it is visible; the result lists it and its reviewer."""
    trade = await settle(ledger, proposal("t1"))
    await ledger.write(write_review, "t1", "bob", 5, "great", trade.settled_at_us)
    hidden = await ledger.read(get_reputation, "alice", trade.settled_at_us + 1)
    assert (hidden.score, hidden.reviewer_count, hidden.reviews) == (Decimal("3.00"), 0, ())
    later = trade.settled_at_us + REVIEW_WINDOW_US
    shown = await ledger.read(get_reputation, "alice", later)
    assert (shown.score, shown.reviewer_count) == (Decimal("3.22"), 1)
    assert [r.text for r in shown.reviews] == ["great"]
    assert await ledger.read(buyer_reputation, "alice", later) == Decimal("3.22")


async def test_standing_comes_from_the_reviewers_other_trades(ledger):
    """bob's review of alice weighs more once bob has settled trades with others."""
    for name in ("dan", "erin"):
        await ledger.write(open_member_account, name, T0)
    await settle(ledger, proposal("t1"))
    for n, partner in enumerate(("carol", "dan", "erin")):
        await settle(ledger, proposal(f"g{n}", PaymentOption.GIFT, partner, "bob"))
    await ledger.write(write_review, "t1", "bob", 5, "great", T0 + 1)
    await ledger.write(write_review, "t1", "alice", 5, "prompt", T0 + 1)
    result = await ledger.read(get_reputation, "alice", T0 + 2)
    assert (result.score, result.voices[0].other_counterparties) == (Decimal("3.67"), 3)


async def test_a_verified_remote_review_counts_and_an_unverified_one_does_not(ledger):
    """Reviews from another server count only once the app has verified them."""
    await settle(ledger, proposal("x1", PaymentOption.GIFT, receiver=DORA))
    await settle(ledger, proposal("x2", PaymentOption.GIFT, receiver=DORA), T0 + 2)
    for n, verified in ((1, True), (2, False)):
        received = RemoteReview(
            DORA, 5, "", T0 + 3, "https://b.example/actor#main-key",
            f"https://b.example/reviews/{n}", verified,
        )  # fmt: skip
        await ledger.write(store_remote_review, f"x{n}", received, T0 + 3)
    result = await ledger.read(get_reputation, "alice", T0 + REVIEW_WINDOW_US + 3)
    assert [r.trade_id for r in result.reviews] == ["x1"]
    assert (result.reviewer_count, result.score) == (1, Decimal("3.22"))


async def test_the_stored_score_matches_the_formula_over_the_same_facts(ledger):
    """get_reputation equals score_ratings over every settled trade and visible review."""
    rnd = random.Random(7)
    names = ("alice", "bob", "carol")
    for n in range(8):
        a, b = rnd.sample(names, 2)
        trade = await settle(ledger, proposal(f"g{n}", PaymentOption.GIFT, a, b), T0 + n)
        for reviewer in (a, b):
            if rnd.random() < 0.8:
                rating = rnd.randint(1, 5)
                await ledger.write(write_review, f"g{n}", reviewer, rating, "", trade.settled_at_us)
    now = T0 + 20
    facts, ratings = set(), set()
    for name in names:
        for trade in await ledger.read(list_trades_of, Party.local(name)):
            facts.add(TradeFact(trade.id, trade.provider, trade.receiver))
        for r in await ledger.read(list_reviews_about, name, now):
            ratings.add(Rating(r.trade_id, r.reviewer, r.subject, r.rating))
    for name in names:
        stored = await ledger.read(get_reputation, name, now)
        assert stored.score == score_ratings(Party.local(name), ratings, facts).score
        assert stored.reviewer_count == len({r.reviewer for r in stored.reviews})
