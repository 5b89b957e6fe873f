"""Reviews of settled trades (DESIGN §3 "Reviews"): blind, one per side, never edited.

* Only a **settled** trade can be reviewed, by one of its two parties (the reviewer);
  the subject is the other party. Each side reviews at most once: a second review by
  the same side raises `ReviewExists`, however similar it is. Nothing edits or deletes
  a review.
* A review is a rating from 1 to 5 and a text of at most 2,000 characters.
* Reviews are written within `REVIEW_WINDOW_US` (14 days) of settlement; later ones are
  refused (`ReviewWindowClosed`), so that nobody writes after reading the other side.
* A review is **hidden** until both sides have reviewed or the window has passed
  (`is_visible`); its own author always sees it.
* Reviews from other servers (a remote party of a cross-community trade) are stored by
  `store_remote_review` with who signed them (``remote_signed_by``) and their object
  URI. Checking the signature, and that the review matches the trade the other server
  knows, is the application's job; it says so with ``verified`` (or later with
  `mark_verified`). Unverified reviews are never shown and never count, not even to
  reveal the other side's review. Local members' reviews are verified by definition.

All instants are microseconds; the clock is passed in as ``now_us``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select, update

from exchange.errors import (
    InvalidRequest,
    NotAParty,
    ReviewExists,
    ReviewNotAllowed,
    ReviewWindowClosed,
)
from exchange.trade_store import lock_trade, party_columns
from exchange.trade_tables import reviews, trades
from exchange.trade_terms import Party, Role, Trade, TradeState, as_party, check_uri

REVIEW_WINDOW_US = 14 * 86_400 * 1_000_000
MAX_REVIEW_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class Review:
    trade_id: str
    reviewer_role: Role
    reviewer: Party
    subject: Party
    rating: int
    text: str
    written_at_us: int
    stored_at_us: int
    verified: bool
    remote_signed_by: str | None = None
    remote_uri: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteReview:
    """A review received from the server of a remote party (``reviewer``), signed by
    ``signed_by`` (its key or actor URI), published at ``written_at_us``."""

    reviewer: Party
    rating: int
    text: str
    written_at_us: int
    signed_by: str
    remote_uri: str
    verified: bool


def check_rating(rating: int) -> int:
    if type(rating) is not int or not 1 <= rating <= 5:
        raise InvalidRequest("a rating is a whole number from 1 to 5")
    return rating


def check_review_text(text: str) -> str:
    if not isinstance(text, str) or len(text) > MAX_REVIEW_CHARS:
        raise InvalidRequest(f"a review's text is at most {MAX_REVIEW_CHARS:,} characters")
    return text


def is_visible(review: Review, other: Review | None, settled_at_us: int, now_us: int) -> bool:
    """Whether ``review`` is shown: verified, and the other side's verified review
    (``other``) exists or the window after settlement has passed."""
    both = other is not None and other.verified
    return review.verified and revealed(both, settled_at_us, now_us)


def revealed(both_reviewed: bool, settled_at_us: int, now_us: int) -> bool:
    """Whether a trade's verified reviews are shown: both sides reviewed, or the window
    after settlement has passed."""
    return both_reviewed or now_us >= settled_at_us + REVIEW_WINDOW_US


def review_from_row(row: Any) -> Review:
    return Review(
        trade_id=row.trade_id,
        reviewer_role=Role(row.reviewer_role),
        reviewer=Party(row.reviewer_account_id, row.reviewer_actor_uri),
        subject=Party(row.subject_account_id, row.subject_actor_uri),
        rating=row.rating,
        text=row.text,
        written_at_us=row.written_at_us,
        stored_at_us=row.stored_at_us,
        verified=row.verified,
        remote_signed_by=row.remote_signed_by,
        remote_uri=row.remote_uri,
    )


def find_review(conn: Connection, trade_id: str, reviewer_role: Role) -> Review | None:
    key = and_(reviews.c.trade_id == trade_id, reviews.c.reviewer_role == reviewer_role.value)
    row = conn.execute(select(reviews).where(key)).first()
    return None if row is None else review_from_row(row)


def _open_for_review(trade: Trade, party: Party, written_at_us: int) -> Role:
    """The reviewer's side, if ``party`` may review ``trade`` written at that instant."""
    role = trade.role_of(party)
    if role is None:
        raise NotAParty(trade.id)
    if trade.state is not TradeState.SETTLED or trade.settled_at_us is None:
        raise ReviewNotAllowed("only a settled trade can be reviewed", trade.id)
    if not trade.settled_at_us <= written_at_us < trade.settled_at_us + REVIEW_WINDOW_US:
        raise ReviewWindowClosed("reviews are written within 14 days of settlement", trade.id)
    return role


def _insert(conn: Connection, trade: Trade, role: Role, review: Review) -> Review:
    existing = find_review(conn, trade.id, role)
    if existing is not None:
        raise ReviewExists(trade.id, existing)
    conn.execute(
        reviews.insert().values(
            trade_id=trade.id,
            reviewer_role=role.value,
            rating=review.rating,
            text=review.text,
            written_at_us=review.written_at_us,
            stored_at_us=review.stored_at_us,
            verified=review.verified,
            remote_signed_by=review.remote_signed_by,
            remote_uri=review.remote_uri,
            **party_columns("reviewer", review.reviewer),
            **party_columns("subject", review.subject),
        )
    )
    return review


def write_review(
    conn: Connection, trade_id: str, actor: Party | str, rating: int, text: str, now_us: int
) -> Review:
    """A local member reviews the other party of a settled trade.

    Raises `UnknownTrade`, `NotAParty`, `ReviewNotAllowed`, `ReviewWindowClosed`,
    `ReviewExists`, `InvalidRequest` (a bad rating or text, or a remote actor).
    """
    party = as_party(actor)
    trade = lock_trade(conn, trade_id)
    role = _open_for_review(trade, party, now_us)
    if party.is_remote:
        raise InvalidRequest("a remote party's review comes signed by its server")
    review = Review(
        trade_id=trade_id,
        reviewer_role=role,
        reviewer=party,
        subject=trade.party(role.other),
        rating=check_rating(rating),
        text=check_review_text(text),
        written_at_us=now_us,
        stored_at_us=now_us,
        verified=True,
    )
    return _insert(conn, trade, role, review)


def store_remote_review(
    conn: Connection, trade_id: str, received: RemoteReview, now_us: int
) -> Review:
    """Store a review written by the remote party of a trade (see the module docstring).

    Raises what `write_review` raises; the window is judged at ``written_at_us``.
    """
    if type(received.written_at_us) is not int:
        raise InvalidRequest("a review's writing time is an instant in microseconds")
    trade = lock_trade(conn, trade_id)
    role = _open_for_review(trade, received.reviewer, received.written_at_us)
    if not received.reviewer.is_remote:
        raise InvalidRequest("a local member's review is written with write_review")
    review = Review(
        trade_id=trade_id,
        reviewer_role=role,
        reviewer=received.reviewer,
        subject=trade.party(role.other),
        rating=check_rating(received.rating),
        text=check_review_text(received.text),
        written_at_us=received.written_at_us,
        stored_at_us=now_us,
        verified=received.verified is True,
        remote_signed_by=check_uri(received.signed_by, "signer URI"),
        remote_uri=check_uri(received.remote_uri, "review URI"),
    )
    return _insert(conn, trade, role, review)


def mark_verified(conn: Connection, trade_id: str, reviewer_role: Role) -> Review:
    """Record that the application verified a stored remote review; raises
    `ReviewNotAllowed` if there is no such review."""
    key = and_(reviews.c.trade_id == trade_id, reviews.c.reviewer_role == reviewer_role.value)
    conn.execute(update(reviews).where(key).values(verified=True))
    found = find_review(conn, trade_id, reviewer_role)
    if found is None:
        raise ReviewNotAllowed("this side has not reviewed the trade", trade_id)
    return found


def list_trade_reviews(
    conn: Connection, trade_id: str, now_us: int, viewer: Party | str | None = None
) -> list[Review]:
    """The reviews of a trade that are visible now, and the ``viewer``'s own."""
    row = conn.execute(select(trades.c.settled_at_us).where(trades.c.id == trade_id)).first()
    if row is None or row.settled_at_us is None:
        return []
    query = select(reviews).where(reviews.c.trade_id == trade_id).order_by(reviews.c.reviewer_role)
    found = {r.reviewer_role: r for r in map(review_from_row, conn.execute(query))}
    me = None if viewer is None else as_party(viewer)
    return [
        review
        for role, review in found.items()
        if review.reviewer == me
        or is_visible(review, found.get(role.other), row.settled_at_us, now_us)
    ]


def list_reviews_about(conn: Connection, subject: Party | str, now_us: int) -> list[Review]:
    """Every review of ``subject`` that is visible now, oldest first."""
    other = reviews.alias("other")
    query = (
        select(reviews, trades.c.settled_at_us, other.c.verified.label("other_verified"))
        .join(trades, trades.c.id == reviews.c.trade_id)
        .outerjoin(
            other,
            and_(
                other.c.trade_id == reviews.c.trade_id,
                other.c.reviewer_role != reviews.c.reviewer_role,
            ),
        )
        .where(
            _subject_is(as_party(subject)),
            reviews.c.verified.is_(True),
            trades.c.state == TradeState.SETTLED.value,
        )
        .order_by(reviews.c.written_at_us, reviews.c.trade_id, reviews.c.reviewer_role)
    )
    return [
        review_from_row(row)
        for row in conn.execute(query)
        if revealed(row.other_verified is True, row.settled_at_us, now_us)
    ]


def _subject_is(party: Party) -> ColumnElement[bool]:
    if party.account_id is not None:
        return reviews.c.subject_account_id == party.account_id
    return reviews.c.subject_actor_uri == party.actor_uri
