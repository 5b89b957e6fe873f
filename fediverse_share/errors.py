"""Errors of the application layer.

    Exception
     └── AppError                 code + message safe to show; carries an HTTP status
          ├── ConfigError         settings missing or malformed (CLI exit 2)
          ├── BadRequest          400: malformed input
          ├── Unauthorized        401: no or bad credentials
          ├── Forbidden           403: authenticated but not allowed
          ├── NotFound            404
          ├── Conflict            409
          ├── PayloadTooLarge     413
          ├── OutOfOrder          an inbound activity that needs one not handled here yet
          └── ServerFailedToStart an app served on loopback did not start (its lifespan failed)

Errors of the protocol library (``activitypub.errors``) and of the ledger domain
(``exchange.errors``) keep their own trees; `fediverse_share.web.errors` maps all
three onto HTTP responses in one place.
"""

from __future__ import annotations


class AppError(Exception):
    """An expected failure with a stable ``code`` and a message safe to show."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(AppError):
    status = 500
    code = "config_error"


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class OutOfOrder(AppError):
    """An inbound activity that cannot apply before another one, which may still be on
    its way (a trade's ``pay`` before its ``confirm``: deliveries overtake each other).
    The inbox tries it again soon (`fediverse_share.federation.inbox.process_pending`)."""

    code = "out_of_order"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class ServerFailedToStart(AppError):
    """Uvicorn stopped before it started serving (`fediverse_share.loopback`)."""

    status = 500
    code = "server_failed_to_start"


def expected_error_types() -> tuple[type[Exception], ...]:
    """The roots of every expected error: ours, the protocol library's, the ledger's."""
    from activitypub.errors import ActivityPubError
    from exchange.errors import LedgerError

    return (AppError, ActivityPubError, LedgerError)


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "code", "error"))


def error_message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)
