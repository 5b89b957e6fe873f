"""JSON Schemas of clearing in the exchange API: linked communities, posted rates, the
rates a payment cites, and the operators' requests (`render_clearing` renders them)."""

from __future__ import annotations

from fediverse_share.exchange_api.schemas import (
    AMOUNT,
    BPS,
    CURRENCY_CODE,
    INPUT_AMOUNT,
    INSTANT,
    KEY,
    MONEY,
    Schema,
    nullable,
    obj,
    ref,
    text,
)
from fediverse_share.peer_directory import MAX_VALID_HOURS, RATE_PATTERN

DOMAIN = text("a community's host name (and port)", minLength=1, maxLength=253)
RATE = text(
    "exact: how many units of `currency` for one unit of `peer_currency`, e.g. 3/2 or 0.85",
    pattern=f"^{RATE_PATTERN}$",
)
STATUS = {"enum": ["pending", "active", "suspended", "frozen", "ended"]}
HOLDS = obj({"debits": AMOUNT, "credits": AMOUNT})
FEE = {**BPS, "maximum": 9_999}

_PEER: dict[str, Schema] = {
    "domain": DOMAIN,
    "status": {
        **STATUS,
        "description": "pending (one consent missing), active, suspended (by an operator), "
        "frozen (statements disagreed), ended",
    },
    "currency": obj(
        {"code": CURRENCY_CODE, "scale": {"type": "integer", "minimum": 0, "maximum": 18}}
    ),
    "our_rate": nullable(ref("PostedRate")),
    "their_rate": nullable(ref("PostedRate")),
}

COMPONENTS: dict[str, Schema] = {
    "PostedRate": obj(
        {
            "id": text("the version's id (ours) or URI (a peer's)"),
            "version": {"type": "integer", "minimum": 1},
            "currency": CURRENCY_CODE,
            "peer_currency": CURRENCY_CODE,
            "rate": {**RATE, "pattern": r"^[0-9]+(/[0-9]+)?$"},
            "fee_bps": FEE,
            "max_amount": {**MONEY, "description": "the most one transfer may carry"},
            "valid_from": INSTANT,
            "valid_until": INSTANT,
        }
    ),
    "RateCited": obj(
        {
            "community": DOMAIN,
            "rate_id": nullable(text("the version that community cites")),
            "rate": nullable(text("its terms, when this server holds that quote")),
            "fee_bps": nullable(FEE),
        }
    ),
    "Peer": obj(_PEER),
    "PeerDirectory": obj(
        {"currency": CURRENCY_CODE, "peers": {"type": "array", "items": ref("Peer")}}
    ),
    "PeerLink": obj(
        {
            **_PEER,
            "actor": text("the community's instance actor"),
            "account": text("the clearing account in our ledger: peer:<domain>"),
            "balance": nullable(
                {**AMOUNT, "description": "positive: more has gone to them than come back"}
            ),
            "holds": nullable(HOLDS),
            "credit_limit": nullable(AMOUNT),
            "upper_limit": nullable(AMOUNT),
            "local_consent": {"type": "boolean"},
            "remote_consent": {"type": "boolean"},
            "note": text("why the status changed (e.g. which statement disagreed)"),
            "statement_seq": {"type": "integer", "minimum": 0},
            "updated_at": INSTANT,
        }
    ),
    "PeerLinks": obj({"peers": {"type": "array", "items": ref("PeerLink")}}),
    "PeerRequest": obj(
        {
            "id": nullable(KEY),
            "handle": text(
                "the community: @name@domain or a URL of its server", minLength=3, maxLength=300
            ),
            "credit_limit": {**INPUT_AMOUNT, "description": "for both directions, in ours"},
        },
        optional=("id",),
    ),
    "PeerPatch": obj(
        {"id": nullable(KEY), "status": {"enum": ["active", "suspended", "ended"]}},
        optional=("id",),
    ),
    "PostedRates": obj({"rates": {"type": "array", "items": ref("PostedRate")}}),
    "RateRequest": obj(
        {
            "id": nullable(KEY),
            "peer_currency": text(
                "the peer's currency code (any case)", pattern="^[A-Za-z][A-Za-z0-9]{1,15}$"
            ),
            "rate": RATE,
            "fee_bps": FEE,
            "valid_hours": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_VALID_HOURS,
            },
            "max_amount": nullable(INPUT_AMOUNT),
        },
        optional=("id", "fee_bps", "valid_hours", "max_amount"),
    ),
    "Reconciliation": obj(
        {
            "domain": DOMAIN,
            "matched": nullable(
                {"type": "boolean", "description": "null: not compared now (legs in flight)"}
            ),
            "peer": ref("PeerLink"),
        }
    ),
    "LegInDoubt": obj(
        {
            "transfer": text("the clearing transfer's id"),
            "state": {"enum": ["in_doubt", "committed"]},
            "path": {"type": "array", "items": DOMAIN},
            "amount": {**MONEY, "description": "what the leg moves on, in ours"},
            "fee": {**MONEY, "description": "our fee on the leg"},
            "debit_account": text("the account the leg is paid from"),
            "credit_account": text("the account it is paid to (peer:<downstream>)"),
            "memo": text(),
            "expired_at": INSTANT,
        }
    ),
    "LegsInDoubt": obj({"legs": {"type": "array", "items": ref("LegInDoubt")}}),
    "BookLate": obj(
        {"id": nullable(KEY), "transfer": text("the transfer, as listed", minLength=1)},
        optional=("id",),
    ),
    "StatementClearing": obj(
        {
            "transfer": text("the clearing transfer's id"),
            "role": {"enum": ["payer", "hop", "payee"]},
            "path": {"type": "array", "items": DOMAIN},
            "destination": text("the payee, acct:name@domain"),
            "state": {"enum": ["prepared", "committed", "aborted", "expired", "in_doubt"]},
        }
    ),
}
