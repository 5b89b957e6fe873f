"""Errors of the Mastodon client API (beside `fediverse_share.errors`).

    AppError (fediverse_share.errors)
     └── ValidationFailed     422: a well-formed request the API cannot take
          │                        (empty status, too long, unknown media, bad file)
          └── NotSupported    422: a feature this server does not offer (polls…)

`fediverse_share.web.errors` maps them by their ``status`` like every AppError.
"""

from __future__ import annotations

from fediverse_share.errors import AppError


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        # Mastodon words these "Validation failed: …"; clients show the message.
        super().__init__(f"Validation failed: {message}", code=code)


class NotSupported(ValidationFailed):
    code = "not_supported"
