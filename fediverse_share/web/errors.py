"""The one place where expected errors become HTTP responses.

Application errors (`fediverse_share.errors`), protocol errors
(`activitypub.errors`) and ledger errors (`exchange.errors`) each carry a stable
``code`` and a message safe to show; here they get their status. JSON paths get
``{"error": message, "code": code}``; nothing under ``/api/`` ever answers HTML.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from activitypub.errors import SignatureError
from fediverse_share.errors import AppError, error_code, error_message

log = logging.getLogger(__name__)

#: Protocol and ledger error codes that are not plain 400s. Every signature error
#: is a 401 (see `status_for`).
_STATUS_BY_CODE: dict[str, int] = {
    "key_owner_mismatch": 401,
    "origin_mismatch": 403,
    "fetch_refused": 422,
    "fetch_failed": 502,
    "gone": 502,
    "response_too_large": 502,
    "webfinger_mismatch": 502,
    "unknown_account": 404,
    "unknown_transfer": 404,
    "not_found": 404,
    "forbidden": 403,
    "idempotency_conflict": 409,
    "account_exists": 409,
    "credit_limit_exceeded": 422,
    "upper_limit_exceeded": 422,
    "account_closed": 422,
    "unknown_trade": 404,
    "trade_conflict": 409,
    "not_a_party": 403,
    "wrong_party": 403,
    "invalid_transition": 409,
    "review_not_allowed": 409,
    "review_window_closed": 409,
    "review_exists": 409,
    "unknown_peer": 404,
    "link_not_active": 422,
    "no_rate": 422,
    "rate_expired": 422,
    "amount_over_quote": 422,
    "unknown_leg": 404,
    "leg_not_prepared": 409,
}


def error_response(status: int, message: str, code: str) -> Response:
    return JSONResponse({"error": message, "code": code}, status_code=status)


def status_for(exc: Exception) -> int:
    if isinstance(exc, AppError):
        return exc.status
    if isinstance(exc, SignatureError):
        return 401
    return _STATUS_BY_CODE.get(error_code(exc), 400)


async def handle_expected(request: Request, exc: Exception) -> Response:
    response = error_response(status_for(exc), error_message(exc), error_code(exc))
    # Bearer errors carry their RFC 6750 challenge (WWW-Authenticate) with them.
    response.headers.update(getattr(exc, "headers", None) or {})
    return response


async def handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, "Record not found", "not_found")
    if exc.status_code == 405:
        return error_response(405, "Method not allowed", "method_not_allowed")
    return error_response(exc.status_code, str(exc.detail), "http_error")


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error", "internal_error")
