"""Reviews: settled trades only, one per side, blind until both or 14 days, never edited."""

from __future__ import annotations

import pytest

from exchange import trades
from exchange.errors import (
    InvalidRequest,
    NotAParty,
    ReviewExists,
    ReviewNotAllowed,
    ReviewWindowClosed,
    UnknownTrade,
)
from exchange.reviews import (
    REVIEW_WINDOW_US,
    RemoteReview,
    list_reviews_about,
    list_trade_reviews,
    mark_verified,
    store_remote_review,
    write_review,
)
from exchange.trade_terms import Party, PaymentOption, Role
from tests.exchange.conftest import T0
from tests.exchange.trading import everything, proposal, settle

DORA = Party.remote("https://b.example/users/dora")
SETTLED = T0 + 1  # the settle() helper's clock


def remote_review(rating=4, verified=True, written_at_us=SETTLED + 5, **changes):
    values = {
        "reviewer": DORA,
        "rating": rating,
        "text": "smooth",
        "written_at_us": written_at_us,
        "signed_by": "https://b.example/actor#main-key",
        "remote_uri": "https://b.example/reviews/1",
        "verified": verified,
    }
    values.update(changes)
    return RemoteReview(**values)


def shown(reviews):
    return sorted((r.reviewer.ref, r.rating) for r in reviews)


@pytest.fixture
async def settled(ledger):
    """Trade ``t1`` settled between alice (provider) and bob (receiver) at SETTLED."""
    await settle(ledger, proposal("t1"))
    return ledger


async def test_a_review_carries_what_federation_needs(settled):
    """Reviewer, subject, trade, rating, text, and local reviews count as verified."""
    review = await settled.write(write_review, "t1", "bob", 5, "great bike", SETTLED + 2)
    assert (review.trade_id, review.reviewer_role) == ("t1", Role.RECEIVER)
    assert (review.reviewer, review.subject) == (Party.local("bob"), Party.local("alice"))
    assert (review.rating, review.text, review.written_at_us) == (5, "great bike", SETTLED + 2)
    assert review.verified and review.remote_signed_by is None


async def test_a_review_is_hidden_until_the_other_side_reviews(settled):
    """One review is seen only by its author; after the second, both are public."""
    await settled.write(write_review, "t1", "bob", 5, "great bike", SETTLED + 2)
    assert await settled.read(list_trade_reviews, "t1", SETTLED + 3) == []
    own = await settled.read(list_trade_reviews, "t1", SETTLED + 3, "bob")
    assert shown(own) == [("bob", 5)]
    assert await settled.read(list_trade_reviews, "t1", SETTLED + 3, "alice") == []
    await settled.write(write_review, "t1", "alice", 4, "paid on time", SETTLED + 4)
    both = await settled.read(list_trade_reviews, "t1", SETTLED + 5)
    assert shown(both) == [("alice", 4), ("bob", 5)]
    about_alice = await settled.read(list_reviews_about, "alice", SETTLED + 5)
    assert [r.text for r in about_alice] == ["great bike"]


async def test_a_lone_review_shows_fourteen_days_after_settlement(settled):
    """Without the other side, a review appears exactly when the window ends."""
    await settled.write(write_review, "t1", "bob", 2, "late", SETTLED + 2)
    end = SETTLED + REVIEW_WINDOW_US
    assert await settled.read(list_trade_reviews, "t1", end - 1) == []
    assert shown(await settled.read(list_trade_reviews, "t1", end)) == [("bob", 2)]
    assert shown(await settled.read(list_reviews_about, "alice", end)) == [("bob", 2)]


async def test_reviews_are_written_within_the_window(settled):
    """At 14 days after settlement the window is closed."""
    with pytest.raises(ReviewWindowClosed) as caught:
        await settled.write(write_review, "t1", "bob", 5, "", SETTLED + REVIEW_WINDOW_US)
    assert caught.value.code == "review_window_closed"


async def test_a_second_review_by_the_same_side_is_refused(settled):
    """Never edited: a second review raises ReviewExists (carrying the first) and changes
    nothing, even with the same content."""
    first = await settled.write(write_review, "t1", "bob", 5, "great", SETTLED + 2)
    before = await settled.read(everything)
    for rating, text in ((1, "actually bad"), (5, "great")):
        with pytest.raises(ReviewExists) as caught:
            await settled.write(write_review, "t1", "bob", rating, text, SETTLED + 3)
        assert caught.value.review == first and caught.value.code == "review_exists"
    assert await settled.read(everything) == before


REFUSALS = {
    "an unsettled trade": ("open", "bob", 5, "", ReviewNotAllowed),
    "an unknown trade": ("nope", "bob", 5, "", UnknownTrade),
    "a stranger": ("t1", "carol", 5, "", NotAParty),
    "a rating of 0": ("t1", "bob", 0, "", InvalidRequest),
    "a rating of 6": ("t1", "bob", 6, "", InvalidRequest),
    "a rating as text": ("t1", "bob", "5", "", InvalidRequest),
    "a rating of True": ("t1", "bob", True, "", InvalidRequest),
    "a text too long": ("t1", "bob", 5, "x" * 2_001, InvalidRequest),
    "a remote actor writing locally": ("remote", DORA, 5, "", InvalidRequest),
}


@pytest.mark.parametrize("name", REFUSALS)
async def test_a_refused_review_raises_and_stores_nothing(settled, name):
    """Each refusal raises its typed error and leaves every table as it was."""
    trade_id, actor, rating, text, expected = REFUSALS[name]
    await settled.write(trades.propose, proposal("open", PaymentOption.RENTAL), "bob", T0)
    await settle(settled, proposal("remote", PaymentOption.GIFT, receiver=DORA))
    before = await settled.read(everything)
    with pytest.raises(expected):
        await settled.write(write_review, trade_id, actor, rating, text, SETTLED + 2)
    assert await settled.read(everything) == before


async def test_the_longest_text_is_accepted(settled):
    """2,000 characters is the limit, inclusive."""
    review = await settled.write(write_review, "t1", "alice", 3, "é" * 2_000, SETTLED + 2)
    assert len(review.text) == 2_000


@pytest.fixture
async def remote_trade(ledger):
    """A gift from alice to dora (a member of another community), settled at SETTLED."""
    await settle(ledger, proposal("x1", PaymentOption.GIFT, receiver=DORA))
    return ledger


async def test_a_verified_remote_review_is_stored_and_counts(remote_trade):
    """A review from dora's server, verified by the app, reveals alice's and is shown."""
    db = remote_trade
    await db.write(write_review, "x1", "alice", 5, "kind", SETTLED + 2)
    stored = await db.write(store_remote_review, "x1", remote_review(), SETTLED + 9)
    assert (stored.reviewer, stored.subject, stored.verified) == (DORA, Party.local("alice"), True)
    assert stored.remote_signed_by == "https://b.example/actor#main-key"
    assert stored.stored_at_us == SETTLED + 9
    visible = await db.read(list_trade_reviews, "x1", SETTLED + 10)
    assert shown(visible) == [("alice", 5), (DORA.ref, 4)]


async def test_an_unverified_remote_review_is_hidden_until_verified(remote_trade):
    """Unverified: neither shown nor revealing the other side's review; verified later: both."""
    db = remote_trade
    await db.write(write_review, "x1", "alice", 5, "kind", SETTLED + 2)
    await db.write(store_remote_review, "x1", remote_review(verified=False), SETTLED + 9)
    assert await db.read(list_trade_reviews, "x1", SETTLED + 10) == []
    assert await db.read(list_reviews_about, DORA, SETTLED + 10) == []
    await db.write(mark_verified, "x1", Role.RECEIVER)
    assert len(await db.read(list_trade_reviews, "x1", SETTLED + 10)) == 2
    about_dora = await db.read(list_reviews_about, DORA, SETTLED + 10)
    assert [r.text for r in about_dora] == ["kind"]


REMOTE_REFUSALS = {
    "written before settlement": (remote_review(written_at_us=SETTLED - 1), ReviewWindowClosed),
    "written after the window": (
        remote_review(written_at_us=SETTLED + REVIEW_WINDOW_US),
        ReviewWindowClosed,
    ),
    "by a remote stranger": (
        remote_review(reviewer=Party.remote("https://c.example/u/eve")),
        NotAParty,
    ),
    "by the local party": (remote_review(reviewer=Party.local("alice")), InvalidRequest),
    "a bad signer": (remote_review(signed_by="b.example"), InvalidRequest),
}


@pytest.mark.parametrize("name", REMOTE_REFUSALS)
async def test_a_refused_remote_review_stores_nothing(remote_trade, name):
    """Remote reviews obey the same rules, judged at their own writing time."""
    received, expected = REMOTE_REFUSALS[name]
    before = await remote_trade.read(everything)
    with pytest.raises(expected):
        await remote_trade.write(store_remote_review, "x1", received, SETTLED + 9)
    assert await remote_trade.read(everything) == before
