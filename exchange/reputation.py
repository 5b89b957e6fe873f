"""Reputation: one score per member, from the reviews of their settled trades.

**The rule.** For a subject S (a local member or a remote actor) at an instant ``now``:

1. *Counting reviews.* A review counts when it is about S, verified, visible at ``now``
   (`exchange.reviews.is_visible`: both sides reviewed, or 14 days passed since
   settlement), and its trade is *qualifying*: settled, with a ledger payment booked or
   its delivery confirmed by the receiver. Its reviewer is the other party of that trade.
2. *One voice per counterparty.* Reviews are grouped by reviewer C (an account id or an
   actor URI). C's rating r(C) is the mean of C's counting ratings of S, however many
   trades they had: repeating trades with one partner cannot add weight.
3. *Standing.* n(C) is the number of distinct parties, other than S and C, with whom C
   has at least one qualifying trade. C's weight is
   ``w(C) = min(n(C) + 1, FULL_STANDING + 1) / (FULL_STANDING + 1)``, with
   ``FULL_STANDING = 3``: 1/4 for a reviewer who traded with nobody but S (a second
   account of S's own, say), 1/2, 3/4, and 1 from three other partners on.
4. *Prior.* The score starts from ``PRIOR_MEAN = 3`` held with ``PRIOR_WEIGHT = 2``:

       score = (PRIOR_WEIGHT x PRIOR_MEAN + Σ w(C) x r(C)) / (PRIOR_WEIGHT + Σ w(C))

   computed exactly (fractions) and rounded half-even to two decimals. A member
   nobody has reviewed scores 3.00; one five-star review from a full-standing partner
   gives 3.67, not 5.00, and from a reviewer with no other partner 3.22 (more examples
   in docs/LEDGER.md, "Reviews and reputation").

So the score is a weighted mean of numbers between 1 and 5 and stays within 1..5; it
depends only on the set of facts (not the order they are read in); accounts that trade
only among themselves change nobody else's score; and a second account that trades only
with S adds at most one voice of weight 1/4. A ring of sock puppets that also trade with
each other can still earn standing: credit limits, and later a seeded trust metric
(Advogato, EigenTrust; see the reference notes, §6), are the brake on that.

``reviewer_count`` is the number of distinct reviewers C; ``reviews`` the counting
reviews. `buyer_reputation` gives the number `exchange.issuance.pay_sale` compares
with the community's ``issuance_reputation_threshold``; `exchange.trades.pay` calls it
for the payer of a trade.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, or_, select

from exchange.money import round_half_even
from exchange.reviews import Review, list_reviews_about
from exchange.trade_store import settled_between
from exchange.trade_tables import trades
from exchange.trade_terms import Party, as_party

PRIOR_MEAN = Fraction(3)
PRIOR_WEIGHT = Fraction(2)
FULL_STANDING = 3


@dataclass(frozen=True, slots=True)
class TradeFact:
    """A qualifying trade: settled, with a payment booked or a confirmed delivery."""

    trade_id: str
    provider: Party
    receiver: Party


@dataclass(frozen=True, slots=True)
class Rating:
    """A visible, verified review reduced to what the score needs."""

    trade_id: str
    reviewer: Party
    subject: Party
    rating: int


@dataclass(frozen=True, slots=True)
class Voice:
    """One reviewer's part in a score: their mean rating and their weight."""

    reviewer: Party
    mean: Fraction
    weight: Fraction
    other_counterparties: int
    trade_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Score:
    score: Decimal
    voices: tuple[Voice, ...]

    @property
    def reviewer_count(self) -> int:
        return len(self.voices)


@dataclass(frozen=True, slots=True)
class Reputation:
    subject: Party
    score: Decimal
    reviewer_count: int
    voices: tuple[Voice, ...]
    reviews: tuple[Review, ...]


def standing_weight(other_counterparties: int) -> Fraction:
    """``w = min(n + 1, FULL_STANDING + 1) / (FULL_STANDING + 1)``."""
    return Fraction(min(other_counterparties, FULL_STANDING) + 1, FULL_STANDING + 1)


def to_decimal(value: Fraction) -> Decimal:
    """``value`` rounded half-even to two decimals."""
    hundredths = round_half_even(value.numerator * 100, value.denominator)
    return Decimal(hundredths).scaleb(-2)


def _partners(facts: Iterable[TradeFact]) -> tuple[dict[str, TradeFact], dict[Party, set[Party]]]:
    by_id: dict[str, TradeFact] = {}
    partners: dict[Party, set[Party]] = defaultdict(set)
    for fact in facts:
        by_id[fact.trade_id] = fact
        partners[fact.provider].add(fact.receiver)
        partners[fact.receiver].add(fact.provider)
    return by_id, partners


def _counts(rating: Rating, subject: Party, by_id: dict[str, TradeFact]) -> bool:
    fact = by_id.get(rating.trade_id)
    if fact is None or rating.subject != subject or rating.reviewer == subject:
        return False
    return {rating.reviewer, rating.subject} == {fact.provider, fact.receiver}


def score_ratings(subject: Party, ratings: Iterable[Rating], facts: Iterable[TradeFact]) -> Score:
    """The rule of the module docstring over given facts (pure, order-independent)."""
    by_id, partners = _partners(facts)
    grouped: dict[Party, dict[str, int]] = defaultdict(dict)
    for rating in ratings:
        if _counts(rating, subject, by_id):
            grouped[rating.reviewer][rating.trade_id] = rating.rating
    voices = []
    for reviewer in sorted(grouped, key=lambda p: (p.is_remote, p.ref)):
        given = grouped[reviewer]
        others = len(partners[reviewer] - {subject, reviewer})
        mean = Fraction(sum(given.values()), len(given))
        trade_ids = tuple(sorted(given))
        voices.append(Voice(reviewer, mean, standing_weight(others), others, trade_ids))
    total = PRIOR_WEIGHT * PRIOR_MEAN + sum((v.weight * v.mean for v in voices), Fraction(0))
    weight = PRIOR_WEIGHT + sum((v.weight for v in voices), Fraction(0))
    return Score(to_decimal(total / weight), tuple(voices))


def _qualifying_trades(conn: Connection, parties: list[Party]) -> list[TradeFact]:
    t = trades
    query = select(
        t.c.id,
        t.c.provider_account_id,
        t.c.provider_actor_uri,
        t.c.receiver_account_id,
        t.c.receiver_actor_uri,
    ).where(
        settled_between(parties),
        or_(t.c.payment_id.is_not(None), t.c.confirmed_at_us.is_not(None)),
    )
    return [
        TradeFact(
            row.id,
            Party(row.provider_account_id, row.provider_actor_uri),
            Party(row.receiver_account_id, row.receiver_actor_uri),
        )
        for row in conn.execute(query)
    ]


def get_reputation(conn: Connection, subject: Party | str, now_us: int) -> Reputation:
    """The reputation of ``subject`` (a `Party`, or a local account id) at ``now_us``."""
    party = as_party(subject)
    visible = list_reviews_about(conn, party, now_us)
    ratings = [Rating(r.trade_id, r.reviewer, r.subject, r.rating) for r in visible]
    reviewers = sorted({r.reviewer for r in visible}, key=lambda p: (p.is_remote, p.ref))
    facts = _qualifying_trades(conn, [party, *reviewers]) if reviewers else []
    score = score_ratings(party, ratings, facts)
    counted = {(v.reviewer, trade_id) for v in score.voices for trade_id in v.trade_ids}
    resting = tuple(r for r in visible if (r.reviewer, r.trade_id) in counted)
    return Reputation(party, score.score, score.reviewer_count, score.voices, resting)


def buyer_reputation(conn: Connection, buyer: Party | str, now_us: int) -> Decimal:
    """The number `exchange.issuance.pay_sale` takes as the buyer's reputation."""
    return get_reputation(conn, buyer, now_us).score
