"""JSON Schemas of trades, reviews and reputation (see `fediverse_share.exchange_api.schemas`)."""

from __future__ import annotations

from fediverse_share.exchange_api.schemas import (
    ALL,
    AMOUNT,
    AMOUNT_PATTERN,
    CURRENCY_CODE,
    HANDLE,
    INPUT_AMOUNT,
    INSTANT,
    KEY,
    PAYEE,
    Schema,
    nullable,
    obj,
    ref,
    text,
)
from fediverse_share.exchange_api.trade_payments import CLEARING_DOC, SETTLEMENT_DOC

ROLE = {"enum": ["provider", "receiver"]}
TRADE_STATE = {
    "enum": ["proposed", "agreed", "declined", "cancelled", "delivered", "confirmed", "paid",
             "returned", "settled"]
}  # fmt: skip
OPTION = {"enum": ["fixed", "pay_what_you_feel", "gift", "loan", "rental", "swap"]}
OUTSIDE = text(
    'an amount paid outside the ledger in national money, e.g. "EUR 5.00"',
    pattern=r"^[A-Z][A-Z0-9]{1,15} [0-9]{1,15}(\.[0-9]{1,4})?$",
)
PARTY = text("a member as acct:name@domain, or a remote actor's URI")
REASON = nullable(text(maxLength=500))
SETTLEMENT = {"enum": ["ledger", "clearing", "outside", None], "description": SETTLEMENT_DOC}

COMPONENTS: dict[str, Schema] = {
    "Listing": obj(
        {
            "ref": text("the listing's id or URI", minLength=1, maxLength=2048),
            "title": text(minLength=1, maxLength=200),
            "kind": {"enum": ["offer", "need"]},
        }
    ),
    "TradeRequest": obj(
        {
            "id": nullable(KEY),
            "listing": ref("Listing"),
            "option": OPTION,
            "role": {**ROLE, "description": "the caller's side of the trade"},
            "with": PAYEE,
            "currency": nullable(CURRENCY_CODE),
            "price": nullable({**INPUT_AMOUNT, "description": "fixed and rental only"}),
            "payer": {**ROLE, "description": "who pays (default: the receiver)"},
            "outside": nullable(OUTSIDE),
            "return_due_at": nullable({**INSTANT, "description": "loans and rentals only"}),
        },
        optional=("id", "currency", "price", "payer", "outside", "return_due_at"),
    ),
    "TradeStepRequest": obj({"id": nullable(KEY)}, optional=ALL),
    "TradeReasonRequest": obj({"id": nullable(KEY), "reason": REASON}, optional=ALL),
    "TradePaymentRequest": obj(
        {
            "id": nullable(KEY),
            "amount": nullable(
                {**INPUT_AMOUNT, "description": "pay what you feel: the amount chosen"}
            ),
            "currency": nullable(CURRENCY_CODE),
            "outside": nullable(OUTSIDE),
            "quote_id": nullable(
                text(
                    "a trade paid through clearing: pay this quote of its `clearing` terms "
                    "(from POST /payments/quote); without it the server quotes and pays",
                    minLength=1,
                    maxLength=40,
                )
            ),
        },
        optional=ALL,
    ),
    "TradeStep": obj(
        {
            "seq": {"type": "integer", "minimum": 1},
            "action": text(),
            "actor": nullable(ROLE),
            "from": TRADE_STATE,
            "to": TRADE_STATE,
            "amount": nullable(AMOUNT),
            "outside": nullable(text()),
            "reason": nullable(text()),
            "at": INSTANT,
        }
    ),
    "Trade": obj(
        {
            "id": text(),
            "state": TRADE_STATE,
            "option": OPTION,
            "listing": ref("Listing"),
            "provider": PARTY,
            "receiver": PARTY,
            "proposer": ROLE,
            "payer": ROLE,
            "currency": CURRENCY_CODE,
            "price": nullable(AMOUNT),
            "outside": nullable(text()),
            "return_due_at": nullable(INSTANT),
            "payment_id": nullable(
                text(
                    "see GET /payments/{payment_id}; for a trade paid through clearing, "
                    "the clearing transfer's id"
                )
            ),
            "paid": nullable(AMOUNT),
            "reason": nullable(text()),
            "created_at": INSTANT,
            "updated_at": INSTANT,
            "confirmed_at": nullable(INSTANT),
            "settled_at": nullable(INSTANT),
            "steps": {"type": "array", "items": ref("TradeStep")},
            "reviews": {"type": "array", "items": ref("Review")},
            "settlement": SETTLEMENT,
            "clearing": nullable(ref("TradeClearing")),
        }
    ),
    "TradeClearing": {
        **obj(
            {
                "to": HANDLE,
                "amount": AMOUNT,
                "currency": CURRENCY_CODE,
                "payment_id": nullable(text()),
                "payment_state": nullable(
                    {"enum": ["pending", "committed", "rejected", "expired"]}
                ),
            }
        ),
        "description": CLEARING_DOC,
    },
    "ReviewRequest": obj(
        {
            "id": nullable(KEY),
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "text": text(maxLength=2000),
        },
        optional=("id",),
    ),
    "Review": obj(
        {
            "trade_id": text(),
            "reviewer": PARTY,
            "reviewer_role": ROLE,
            "subject": PARTY,
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "text": text(),
            "written_at": INSTANT,
            "visible": {"type": "boolean", "description": "whether others see it yet"},
        }
    ),
    "Voice": obj(
        {
            "reviewer": PARTY,
            "mean_rating": text("a decimal number"),
            "weight": text("a decimal number, 0.25 to 1"),
            "other_counterparties": {"type": "integer", "minimum": 0},
            "trade_ids": {"type": "array", "items": text()},
        }
    ),
    "Reputation": obj(
        {
            "member": PARTY,
            "score": text("1.00 to 5.00; 3.00 before any review", pattern=AMOUNT_PATTERN),
            "reviewer_count": {"type": "integer", "minimum": 0},
            "voices": {"type": "array", "items": ref("Voice")},
            "reviews": {"type": "array", "items": ref("Review")},
        }
    ),
}
