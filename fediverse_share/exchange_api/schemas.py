"""JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's wire shapes.

Each schema here describes what a ``render_*`` function of
`fediverse_share.exchange_api.render` returns, or what a handler accepts; the OpenAPI
document (`fediverse_share.exchange_api.openapi`) puts them under
``components/schemas`` and the tests check live responses against them.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
INPUT_AMOUNT_PATTERN = r"^[0-9]{1,20}(\.[0-9]{1,8})?$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """A closed object whose properties are all required except ``optional``."""
    return {
        "type": "object",
        "properties": properties,
        "required": [] if optional == ALL else [n for n in properties if n not in optional],
        "additionalProperties": False,
    }


def text(description: str = "", **extra: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **extra}


AMOUNT = text('a decimal amount in the currency\'s units, e.g. "12.50"', pattern=AMOUNT_PATTERN)
INPUT_AMOUNT = text(
    "a positive decimal amount, at most the currency's scale of decimals",
    pattern=INPUT_AMOUNT_PATTERN,
)
INSTANT = text("ISO 8601 UTC", format="date-time")
CURRENCY_CODE = text("the community's currency code", pattern="^[A-Z][A-Z0-9]{1,15}$")
HANDLE = text("a member as acct:name@domain", pattern="^acct:[^@]+@.+$")
KEY = text("an idempotency key", pattern=r"^[A-Za-z0-9._~:-]{1,100}$")
BPS = {"type": "integer", "minimum": 0, "maximum": 10_000, "description": "basis points"}
PAYEE = text("a member's name or acct:name@domain", minLength=1)
ALL = ("*",)
MONEY = obj({"amount": AMOUNT, "currency": CURRENCY_CODE})
#: What a payment to a member of another community shows beyond a local payment's fields
#: (where ``amount`` and ``currency`` are what the payee receives, in their currency).
CROSS_PAYMENT: dict[str, Schema] = {
    "send": {**MONEY, "description": "what the payer pays, in this community's currency"},
    "receive": {**MONEY, "description": "what the payee receives, in theirs"},
    "path": {"type": "array", "items": text("a community's domain, the payer's first")},
    "rates": {"type": "array", "items": ref("RateCited")},
    "transfer": text("the clearing transfer's id, as every community on the path knows it"),
    "error": nullable(text("why it was rejected or expired")),
}

COMPONENTS: dict[str, Schema] = {
    "Error": obj({"error": text("a message safe to show"), "code": text("a stable machine code")}),
    "Currency": obj(
        {
            "code": CURRENCY_CODE,
            "name": text(),
            "scale": {"type": "integer", "minimum": 0, "maximum": 8},
        }
    ),
    "Account": obj(
        {
            "account": text("the ledger account id (the member's username)"),
            "handle": HANDLE,
            "currency": CURRENCY_CODE,
            "balance": AMOUNT,
            "available": {**AMOUNT, "description": "balance minus outgoing holds"},
            "holds": obj({"debits": AMOUNT, "credits": AMOUNT}),
            "credit_limit": nullable(AMOUNT),
            "soft_limit": nullable(AMOUNT),
            "upper_limit": nullable(AMOUNT),
            "issuance_allowance": obj({"granted": AMOUNT, "remaining": AMOUNT}),
            "warning": nullable(text("set when the available balance is below the soft limit")),
            "closed": {"type": "boolean"},
        }
    ),
    "StatementEntry": obj(
        {
            "seq": {"type": "integer", "minimum": 1},
            "transfer_id": text(),
            "phase": {"enum": ["single", "pending", "post", "void", "expire"]},
            "kind": text("payment, issuance, demurrage, fee, clearing, rounding, correction"),
            "counterparty": text("the other account's ledger id"),
            "amount": {**AMOUNT, "description": "signed from the caller's side"},
            "balance": {**AMOUNT, "description": "the posted balance after this entry"},
            "currency": CURRENCY_CODE,
            "created_at": INSTANT,
            "memo": text("the payer's memo; for a clearing leg without one, what it was"),
            "reference": nullable(text()),
            "pending_id": nullable(text()),
            "expires_at": nullable(INSTANT),
            "clearing": nullable(ref("StatementClearing")),
        }
    ),
    "StatementPage": obj(
        {
            "currency": CURRENCY_CODE,
            "entries": {"type": "array", "items": ref("StatementEntry")},
            "next_cursor": nullable(text("pass as cursor for the next, older page")),
        }
    ),
    "QuoteRequest": obj(
        {
            "id": nullable(KEY),
            "to": PAYEE,
            "amount": INPUT_AMOUNT,
            "currency": CURRENCY_CODE,
            "memo": nullable(text("sent with a payment to another community", maxLength=500)),
        },
        optional=("id", "memo"),
    ),
    "Quote": obj(
        {
            "id": text("cite it as quote_id when paying"),
            "to": HANDLE,
            "send": MONEY,
            "receive": MONEY,
            "fee": nullable(
                {**MONEY, "description": "null to another community: fees are in the rates"}
            ),
            "path": {"type": "array", "items": text("local, or the communities' domains")},
            "rates": {"type": "array", "items": ref("RateCited")},
            "expires_at": INSTANT,
        }
    ),
    "PaymentRequest": obj(
        {
            "id": nullable(KEY),
            "to": PAYEE,
            "amount": INPUT_AMOUNT,
            "currency": CURRENCY_CODE,
            "memo": nullable(text(maxLength=500)),
            "quote_id": nullable(text("from POST /payments/quote", minLength=1, maxLength=400)),
        },
        optional=("id", "memo", "quote_id"),
    ),
    "PaymentLeg": obj(
        {
            "transfer_id": text(),
            "kind": text(),
            "phase": {"enum": ["single", "pending", "post", "void", "expire"]},
            "debit_account": text(),
            "credit_account": text(),
            "amount": AMOUNT,
            "currency": CURRENCY_CODE,
            "created_at": INSTANT,
        }
    ),
    "Payment": obj(
        {
            "id": text(),
            "state": {"enum": ["pending", "committed", "rejected", "expired"]},
            "from": HANDLE,
            "to": HANDLE,
            "amount": AMOUNT,
            "currency": CURRENCY_CODE,
            "memo": text(),
            "created_at": INSTANT,
            "legs": {"type": "array", "items": ref("PaymentLeg")},
            **CROSS_PAYMENT,
        },
        optional=tuple(CROSS_PAYMENT),
    ),
    "LedgerSettings": obj(
        {
            "currency": CURRENCY_CODE,
            "default_credit_limit": AMOUNT,
            "default_soft_limit": AMOUNT,
            "default_upper_limit": nullable(AMOUNT),
            "issuance_allowance": AMOUNT,
            "issuance_copay_bps": BPS,
            "issuance_reputation_threshold": text("a decimal number"),
            "demurrage_rate_bps": BPS,
            "demurrage_period": {"enum": ["day", "month"]},
            "demurrage_free_threshold": AMOUNT,
        }
    ),
    "LedgerSettingsPatch": obj(
        {
            "id": nullable(KEY),
            "default_credit_limit": INPUT_AMOUNT,
            "default_soft_limit": INPUT_AMOUNT,
            "default_upper_limit": nullable(INPUT_AMOUNT),
            "issuance_allowance": INPUT_AMOUNT,
            "issuance_copay_bps": BPS,
            "issuance_reputation_threshold": text(
                "a decimal number", pattern=r"^-?[0-9]{1,10}(\.[0-9]{1,10})?$"
            ),
            "demurrage_rate_bps": BPS,
            "demurrage_period": {"enum": ["day", "month"]},
            "demurrage_free_threshold": INPUT_AMOUNT,
        },
        optional=ALL,
    ),
    "LimitsPatch": obj(
        {
            "id": nullable(KEY),
            "credit_limit": nullable(INPUT_AMOUNT),
            "soft_limit": nullable(INPUT_AMOUNT),
            "upper_limit": nullable(INPUT_AMOUNT),
        },
        optional=ALL,
    ),
    "AuditProblem": obj(
        {
            "code": text(),
            "severity": {"enum": ["error", "warning"]},
            "message": text(),
            "account": nullable(text()),
            "transfer_id": nullable(text()),
        }
    ),
    "AuditReport": obj(
        {
            "ok": {"type": "boolean", "description": "true when no error was found"},
            "errors": {"type": "integer", "minimum": 0},
            "warnings": {"type": "integer", "minimum": 0},
            "problems": {"type": "array", "items": ref("AuditProblem")},
        }
    ),
}
