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
    └── TransferExpired                 transfer_expired: the hold's expiry has passed
"""

from __future__ import annotations


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
