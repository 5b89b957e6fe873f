"""Errors of trades and reviews: expected failures with a stable ``code`` and a safe message.

They derive from `exchange.errors.LedgerError`, so the web layer's one mapping from codes
to HTTP statuses covers them too. Malformed input (a bad rating, a price on a gift)
raises `exchange.errors.InvalidRequest`, as elsewhere in the ledger.

    LedgerError                         (exchange.errors)
    └── TradeError                      (abstract)
        ├── UnknownTrade                unknown_trade
        ├── TradeConflict               trade_conflict: a trade id or step id reused with
        │                               other data, or a step repeated with other data
        ├── NotAParty                   not_a_party: the actor is neither party of the trade
        ├── WrongParty                  wrong_party: a party, but not the one for this step
        ├── InvalidTransition           invalid_transition: not possible in this state
        ├── ReviewNotAllowed            review_not_allowed: the trade is not settled
        │   └── ReviewWindowClosed      review_window_closed: 14 days after settlement
        └── ReviewExists                review_exists: this side has reviewed already
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange.errors import LedgerError

if TYPE_CHECKING:
    from exchange.reviews import Review


class TradeError(LedgerError):
    """Base of the failures of trade steps and reviews."""

    def __init__(self, message: str, trade_id: str) -> None:
        super().__init__(message)
        self.trade_id = trade_id


class UnknownTrade(TradeError):
    code = "unknown_trade"

    def __init__(self, trade_id: str) -> None:
        super().__init__(f"no trade {trade_id!r}", trade_id)


class TradeConflict(TradeError):
    code = "trade_conflict"


class NotAParty(TradeError):
    code = "not_a_party"

    def __init__(self, trade_id: str) -> None:
        super().__init__(f"only the two parties of trade {trade_id!r} can act on it", trade_id)


class WrongParty(TradeError):
    code = "wrong_party"

    def __init__(self, trade_id: str, action: str, who: str) -> None:
        super().__init__(f"in trade {trade_id!r}, {action} is for the {who}", trade_id)
        self.action = action


class InvalidTransition(TradeError):
    code = "invalid_transition"

    def __init__(self, trade_id: str, action: str, state: str) -> None:
        super().__init__(f"trade {trade_id!r} is {state}: {action} is not possible now", trade_id)
        self.action = action
        self.state = state


class ReviewNotAllowed(TradeError):
    code = "review_not_allowed"


class ReviewWindowClosed(ReviewNotAllowed):
    code = "review_window_closed"


class ReviewExists(TradeError):
    """A side reviews once and never edits. ``review`` is the stored one (the caller's
    own), so that an API can answer a retry of the very same review as a success."""

    code = "review_exists"

    def __init__(self, trade_id: str, review: Review) -> None:
        super().__init__(f"this side of trade {trade_id!r} has reviewed it already", trade_id)
        self.review = review
