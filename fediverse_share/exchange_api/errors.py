"""Errors of the exchange API that the ledger itself does not know.

    AppError (fediverse_share.errors)
     └── ExchangeApiError                   code + message safe to show
          ├── UnknownPayee                  404 unknown_payee: no local member by that name
          ├── UnknownPayment                404 unknown_payment: none, or not the caller's
          ├── UnknownMember                 404 unknown_member: no local member by that name
          ├── NotAdmin                      403 not_admin: an operator's endpoint
          ├── IdempotencyKeyMismatch        400 idempotency_key_mismatch: header and id differ
          ├── SelfPayment                   422 self_payment: payer and payee are one member
          ├── CrossCommunityNotAvailable    422 cross_community_not_available (trades)
          └── QuoteRefused                  422 quote_invalid / quote_expired / quote_mismatch

Ledger errors (``exchange.errors``) pass through unchanged; `fediverse_share.web.errors`
turns both into ``{"error": message, "code": code}`` with the status.
"""

from __future__ import annotations

from fediverse_share.errors import AppError


class ExchangeApiError(AppError):
    status = 400
    code = "invalid_request"


class UnknownPayee(ExchangeApiError):
    status = 404
    code = "unknown_payee"


class UnknownPayment(ExchangeApiError):
    status = 404
    code = "unknown_payment"


class UnknownMember(ExchangeApiError):
    status = 404
    code = "unknown_member"


class NotAdmin(ExchangeApiError):
    status = 403
    code = "not_admin"


class IdempotencyKeyMismatch(ExchangeApiError):
    status = 400
    code = "idempotency_key_mismatch"


class SelfPayment(ExchangeApiError):
    status = 422
    code = "self_payment"


class CrossCommunityNotAvailable(ExchangeApiError):
    status = 422
    code = "cross_community_not_available"


class QuoteRefused(ExchangeApiError):
    status = 422
    code = "quote_invalid"
