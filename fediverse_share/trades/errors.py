"""Errors of federated trades: expected refusals with a stable ``code`` and a safe message.

An inbound activity refused for one of these is recorded on its inbox item (the error's
class and message); the domain's own refusals (`exchange.errors`: ``not_a_party``,
``wrong_party``, ``trade_conflict``, ...) are recorded the same way.

    AppError                            (fediverse_share.errors)
    └── FederatedTradeError             federated_trade_error (abstract)
        ├── OfferInvalid                offer_invalid: an Offer or Agreement that does not
        │                               match the listing (units, quantities, option)
        ├── ListingNotTradable          listing_not_tradable: unknown, withdrawn, or not
        │                               a listing of the actor the Offer is for
        ├── UnknownAgreement            unknown_agreement: no trade here has this Agreement
        ├── NotTheCounterparty          not_the_counterparty: the actor is not the remote
        │                               party of the trade
        ├── ReviewUnverifiable          review_unverifiable: a review whose author is not
        │                               the activity's actor, or that is malformed
        └── ClearingPaymentFailed       422 payment_rejected / payment_expired: the payment
                                        of a trade through clearing did not go through;
                                        the trade is unchanged

A forged or premature ``pay`` event of a trade paid through clearing is the domain's
``payment_not_cleared`` (`exchange.trade_clearing`).
"""

from __future__ import annotations

from fediverse_share.errors import AppError


class FederatedTradeError(AppError):
    code = "federated_trade_error"


class OfferInvalid(FederatedTradeError):
    code = "offer_invalid"


class ListingNotTradable(FederatedTradeError):
    code = "listing_not_tradable"


class UnknownAgreement(FederatedTradeError):
    code = "unknown_agreement"


class NotTheCounterparty(FederatedTradeError):
    code = "not_the_counterparty"


class ReviewUnverifiable(FederatedTradeError):
    code = "review_unverifiable"


class ClearingPaymentFailed(FederatedTradeError):
    status = 422
    code = "payment_rejected"

    def __init__(self, state: str, reason: str | None) -> None:
        because = f" ({reason})" if reason and reason != state else ""
        super().__init__(
            f"the payment through clearing was {state}{because}; the trade is unchanged",
            code="payment_expired" if state == "expired" else "payment_rejected",
        )
