"""Errors of the authorization server, named by their RFC 6749 / RFC 6750 codes.

    AppError (fediverse_share.errors)
     └── OAuthError                      code + message safe to show
          ├── InvalidRequest             400 invalid_request: a parameter missing or malformed
          ├── InvalidClient              401 invalid_client: unknown client or wrong secret
          ├── InvalidGrant               400 invalid_grant: bad, used or expired code; bad password
          ├── UnauthorizedClient         403 unauthorized_client: not this client's token
          ├── UnsupportedGrantType       400 unsupported_grant_type
          ├── UnsupportedResponseType    400 unsupported_response_type
          ├── InvalidScope               400 invalid_scope: unknown, or beyond the app's scopes
          ├── AccessDenied               403 access_denied: the member said no
          ├── InvalidToken               401 invalid_token: bearer token unknown or revoked
          │    └── MissingToken          401 (no error code: RFC 6750 §3.1) no bearer token
          ├── InsufficientScope          403 insufficient_scope
          └── UserRequired               422 user_required: an app-only token on a member's API

The token and revocation endpoints render these as ``{"error": code,
"error_description": message}`` (RFC 6749 §5.2); everywhere else they go through
`fediverse_share.web.errors` like any other application error. ``headers`` holds
the ``WWW-Authenticate`` challenge that RFC 6750 asks for on 401 and 403.
"""

from __future__ import annotations

from fediverse_share.errors import AppError


class OAuthError(AppError):
    status = 400
    code = "invalid_request"
    headers: dict[str, str] | None = None


class InvalidRequest(OAuthError):
    status = 400
    code = "invalid_request"


class InvalidClient(OAuthError):
    status = 401
    code = "invalid_client"


class InvalidGrant(OAuthError):
    status = 400
    code = "invalid_grant"


class UnauthorizedClient(OAuthError):
    status = 403
    code = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    status = 400
    code = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    status = 400
    code = "unsupported_response_type"


class InvalidScope(OAuthError):
    status = 400
    code = "invalid_scope"


class AccessDenied(OAuthError):
    status = 403
    code = "access_denied"


class _BearerError(OAuthError):
    """An error of a protected resource, with the RFC 6750 challenge attached."""

    #: RFC 6750 §3.1: a request without credentials gets a challenge without an error.
    bare_challenge = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        challenge = 'Bearer realm="api"'
        if not self.bare_challenge:
            challenge += f', error="{self.code}", error_description="{message}"'
        self.headers = {"WWW-Authenticate": challenge}


class InvalidToken(_BearerError):
    status = 401
    code = "invalid_token"


class MissingToken(InvalidToken):
    bare_challenge = True


class InsufficientScope(_BearerError):
    status = 403
    code = "insufficient_scope"


class UserRequired(OAuthError):
    status = 422
    code = "user_required"
