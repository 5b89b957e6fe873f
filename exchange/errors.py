"""Errors of the ledger: expected failures, each with a stable ``code`` and a safe ``message``.

The web layer maps codes to HTTP statuses in one place; the CLI prints the message.
Nothing here carries secrets, so messages are safe to show to the member who asked.

    LedgerError                         (Exception)
    ├── InvalidRequest                  invalid_request: malformed input
    │   ├── InvalidAmount               invalid_amount: not a positive amount ≤ the maximum
    │   ├── InvalidSettings             invalid_settings: a setting out of range
    │   └── WrongCurrency               wrong_currency: not this ledger's currency
    ├── LedgerNotReady                  ledger_not_ready: no currency created yet
    ├── LedgerExists                    ledger_exists: the currency is created once
    ├── UnknownAccount                  unknown_account
    ├── AccountExists                   account_exists
    ├── AccountClosed                   account_closed
    ├── AccountNotEmpty                 account_not_empty: cannot close with a balance
    ├── LimitExceeded                   (abstract)
    │   ├── CreditLimitExceeded         credit_limit_exceeded: below the lower limit
    │   └── UpperLimitExceeded          upper_limit_exceeded: above the upper limit
    ├── UnknownTransfer                 unknown_transfer
    ├── IdempotencyConflict             idempotency_conflict: id reused with other parameters
    ├── TransferNotPending              transfer_not_pending: already posted, voided, expired
    ├── TransferExpired                 transfer_expired: the hold's expiry has passed
    ├── ClearingError                   (abstract) peering, posted rates, clearing legs
    │   ├── UnknownPeer                 unknown_peer: no link with that community
    │   ├── LinkNotActive               link_not_active: pending, suspended, frozen, ended
    │   ├── NoRate                      no_rate: no quote posted for that currency now
    │   ├── RateExpired                 rate_expired: the cited quote's validity has ended
    │   ├── AmountOverQuote             amount_over_quote: above the quote's maximum
    │   ├── UnknownLeg                  unknown_leg
    │   ├── LegConflict                 leg_conflict: a transfer id reused with other data
    │   ├── LegNotPrepared              leg_not_prepared: committed, aborted or expired
    │   └── WrongFulfilment             wrong_fulfilment: not the preimage of the condition
    └── TradeError                      (abstract) trade steps and reviews
        ├── UnknownTrade                unknown_trade
        ├── TradeConflict               trade_conflict: a trade id or step id reused with
        │                               other data, or a step repeated with other data
        ├── NotAParty                   not_a_party: the actor is neither party of the trade
        ├── WrongParty                  wrong_party: a party, but not the one for this step
        ├── InvalidTransition           invalid_transition: not possible in this state
        ├── PaymentNotCleared           payment_not_cleared: a trade with another community
        │                               paid without a committed clearing transfer of its price
        ├── ReviewNotAllowed            review_not_allowed: the trade is not settled
        │   └── ReviewWindowClosed      review_window_closed: 14 days after settlement
        └── ReviewExists                review_exists: this side has reviewed already
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.reviews import Review


class LedgerError(Exception):
    """Base of every expected ledger failure."""

    code = "ledger_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(LedgerError):
    code = "invalid_request"


class InvalidAmount(InvalidRequest):
    code = "invalid_amount"


class InvalidSettings(InvalidRequest):
    code = "invalid_settings"


class WrongCurrency(InvalidRequest):
    code = "wrong_currency"


class LedgerNotReady(LedgerError):
    code = "ledger_not_ready"


class LedgerExists(LedgerError):
    code = "ledger_exists"


class UnknownAccount(LedgerError):
    code = "unknown_account"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"no account {account_id!r}")
        self.account_id = account_id


class AccountExists(LedgerError):
    code = "account_exists"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} already exists")
        self.account_id = account_id


class AccountClosed(LedgerError):
    code = "account_closed"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} is closed")
        self.account_id = account_id


class AccountNotEmpty(LedgerError):
    code = "account_not_empty"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} has a balance or holds; it cannot be closed")
        self.account_id = account_id


class LimitExceeded(LedgerError):
    """A transfer would take an account past one of its limits."""

    def __init__(self, message: str, account_id: str) -> None:
        super().__init__(message)
        self.account_id = account_id


class CreditLimitExceeded(LimitExceeded):
    code = "credit_limit_exceeded"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} would go below its credit limit", account_id)


class UpperLimitExceeded(LimitExceeded):
    code = "upper_limit_exceeded"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} would go above its upper limit", account_id)


class UnknownTransfer(LedgerError):
    code = "unknown_transfer"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"no transfer {transfer_id!r}")
        self.transfer_id = transfer_id


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"transfer id {transfer_id!r} was already used with other parameters")
        self.transfer_id = transfer_id


class TransferNotPending(LedgerError):
    code = "transfer_not_pending"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"transfer {transfer_id!r} is not a pending transfer that is still open")
        self.transfer_id = transfer_id


class TransferExpired(LedgerError):
    code = "transfer_expired"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"pending transfer {transfer_id!r} has expired")
        self.transfer_id = transfer_id


class ClearingError(LedgerError):
    """Base of the failures of peering, rates and clearing legs."""


class UnknownPeer(ClearingError):
    code = "unknown_peer"

    def __init__(self, domain: str) -> None:
        super().__init__(f"{domain!r} is not a peer of this community")
        self.domain = domain


class LinkNotActive(ClearingError):
    code = "link_not_active"

    def __init__(self, domain: str, status: str) -> None:
        super().__init__(f"the link with {domain!r} is {status}")
        self.domain = domain
        self.status = status


class NoRate(ClearingError):
    code = "no_rate"


class RateExpired(ClearingError):
    code = "rate_expired"

    def __init__(self, rate_id: str) -> None:
        super().__init__(f"quote {rate_id!r} is no longer valid")
        self.rate_id = rate_id


class AmountOverQuote(ClearingError):
    code = "amount_over_quote"

    def __init__(self, rate_id: str) -> None:
        super().__init__(f"the amount is over the maximum of quote {rate_id!r}")
        self.rate_id = rate_id


class UnknownLeg(ClearingError):
    code = "unknown_leg"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"no clearing leg for transfer {transfer_id!r}")
        self.transfer_id = transfer_id


class LegConflict(ClearingError):
    code = "leg_conflict"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"transfer {transfer_id!r} was already prepared with other data")
        self.transfer_id = transfer_id


class LegNotPrepared(ClearingError):
    code = "leg_not_prepared"

    def __init__(self, transfer_id: str, state: str) -> None:
        super().__init__(f"the leg of transfer {transfer_id!r} is {state}")
        self.transfer_id = transfer_id
        self.state = state


class WrongFulfilment(ClearingError):
    code = "wrong_fulfilment"

    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"that is not the fulfilment of transfer {transfer_id!r}")
        self.transfer_id = transfer_id


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


class PaymentNotCleared(TradeError):
    code = "payment_not_cleared"


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
