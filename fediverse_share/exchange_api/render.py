"""Wire shapes of the exchange API: typed values → JSON-ready dicts (``render_*``).

Amounts are decimal strings in the currency's units beside a ``currency`` code, never
floats (`exchange.money.render_amount`); instants are ISO 8601 UTC with milliseconds;
members appear as ``acct:name@domain``; ledger accounts (including the system ones,
``issuance`` and the like) by their ledger id. The JSON Schemas of these shapes are in
`fediverse_share.exchange_api.schemas`; keep the two in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.accounts import Account
from exchange.audit import Problem
from exchange.booking import Transfer
from exchange.money import Currency, render_amount
from exchange.reputation import Reputation, Voice, to_decimal
from exchange.reviews import Review
from exchange.settings import LedgerSettings
from exchange.trade_store import TradeStep
from exchange.trade_terms import render_outside_payment
from fediverse_share.clock import render_iso_millis
from fediverse_share.exchange_api.handles import render_handle, render_party
from fediverse_share.listings.views import ListingView, MatchView

if TYPE_CHECKING:
    from fediverse_share.exchange_api.payments import Payment
    from fediverse_share.exchange_api.quotes import Quote
    from fediverse_share.exchange_api.trades import TradeView


def render_instant(at_us: int | None) -> str | None:
    return None if at_us is None else render_iso_millis(at_us)


def render_limit(limit_minor: int | None, currency: Currency) -> str | None:
    return None if limit_minor is None else render_amount(limit_minor, currency)


def render_currency(currency: Currency) -> dict[str, Any]:
    return {"code": currency.code, "name": currency.name, "scale": currency.scale}


def render_account(account: Account, currency: Currency, domain: str) -> dict[str, Any]:
    limits = account.limits
    soft = limits.soft_limit_minor
    warning = None
    if account.soft_limit_reached and soft is not None:
        warning = (
            f"your available balance is at or below -{render_amount(soft, currency)}, "
            "the community's warning threshold"
        )
    return {
        "account": account.id,
        "handle": render_handle(account.id, domain),
        "currency": currency.code,
        "balance": render_amount(account.balance_minor, currency),
        "available": render_amount(account.available_minor, currency),
        "holds": {
            "debits": render_amount(account.debits_pending_minor, currency),
            "credits": render_amount(account.credits_pending_minor, currency),
        },
        "credit_limit": render_limit(limits.credit_limit_minor, currency),
        "soft_limit": render_limit(soft, currency),
        "upper_limit": render_limit(limits.upper_limit_minor, currency),
        "issuance_allowance": {
            "granted": render_amount(account.allowance_granted_minor, currency),
            "remaining": render_amount(account.allowance_remaining_minor, currency),
        },
        "warning": warning,
        "closed": not account.is_open,
    }


def render_leg(transfer: Transfer, currency: Currency) -> dict[str, Any]:
    return {
        "transfer_id": transfer.id,
        "kind": transfer.kind.value,
        "phase": transfer.phase.value,
        "debit_account": transfer.debit_account_id,
        "credit_account": transfer.credit_account_id,
        "amount": render_amount(transfer.amount_minor, currency),
        "currency": currency.code,
        "created_at": render_iso_millis(transfer.created_at_us),
    }


def render_payment(payment: Payment, currency: Currency, domain: str) -> dict[str, Any]:
    first = payment.transfer
    return {
        "id": payment.id,
        "state": payment.state,
        "from": render_handle(first.debit_account_id, domain),
        "to": render_handle(first.credit_account_id, domain),
        "amount": render_amount(payment.amount_minor, currency),
        "currency": currency.code,
        "memo": first.memo,
        "created_at": render_iso_millis(first.created_at_us),
        "legs": [render_leg(leg, currency) for leg in payment.legs],
    }


def render_quote(quote: Quote, quote_id: str, currency: Currency, domain: str) -> dict[str, Any]:
    amount = {"amount": render_amount(quote.amount_minor, currency), "currency": currency.code}
    return {
        "id": quote_id,
        "to": render_handle(quote.payee, domain),
        "send": amount,
        "receive": amount,
        "fee": {"amount": render_amount(0, currency), "currency": currency.code},
        "path": ["local"],
        "rates": [],
        "expires_at": render_iso_millis(quote.expires_at_us),
    }


def render_settings(settings: LedgerSettings, currency: Currency) -> dict[str, Any]:
    return {
        "currency": currency.code,
        "default_credit_limit": render_amount(settings.default_credit_limit_minor, currency),
        "default_soft_limit": render_amount(settings.default_soft_limit_minor, currency),
        "default_upper_limit": render_limit(settings.default_upper_limit_minor, currency),
        "issuance_allowance": render_amount(settings.issuance_allowance_minor, currency),
        "issuance_copay_bps": settings.issuance_copay_bps,
        "issuance_reputation_threshold": str(settings.issuance_reputation_threshold),
        "demurrage_rate_bps": settings.demurrage_rate_bps,
        "demurrage_period": settings.demurrage_period.value,
        "demurrage_free_threshold": render_amount(
            settings.demurrage_free_threshold_minor, currency
        ),
    }


def render_problem(problem: Problem) -> dict[str, Any]:
    return {
        "code": problem.code,
        "severity": problem.severity.value,
        "message": problem.message,
        "account": problem.account_id,
        "transfer_id": problem.transfer_id,
    }


def render_step(step: TradeStep, currency: Currency) -> dict[str, Any]:
    return {
        "seq": step.seq,
        "action": step.action.value,
        "actor": None if step.actor_role is None else step.actor_role.value,
        "from": step.from_state.value,
        "to": step.to_state.value,
        "amount": render_limit(step.amount_minor, currency),
        "outside": None if step.outside is None else render_outside_payment(step.outside),
        "reason": step.reason,
        "at": render_iso_millis(step.at_us),
    }


def render_review(review: Review, domain: str, *, visible: bool = True) -> dict[str, Any]:
    return {
        "trade_id": review.trade_id,
        "reviewer": render_party(review.reviewer, domain),
        "reviewer_role": review.reviewer_role.value,
        "subject": render_party(review.subject, domain),
        "rating": review.rating,
        "text": review.text,
        "written_at": render_iso_millis(review.written_at_us),
        "visible": visible,
    }


def render_trade(view: TradeView, domain: str) -> dict[str, Any]:
    trade, currency = view.trade, view.currency
    return {
        "id": trade.id,
        "state": trade.state.value,
        "option": trade.option.value,
        "listing": {"ref": trade.listing.ref, "title": trade.listing.title,
                    "kind": trade.listing.kind.value},
        "provider": render_party(trade.provider, domain),
        "receiver": render_party(trade.receiver, domain),
        "proposer": trade.proposer.value,
        "payer": trade.payer.value,
        "currency": currency.code,
        "price": render_limit(trade.price_minor, currency),
        "outside": None if trade.outside is None else render_outside_payment(trade.outside),
        "return_due_at": render_instant(trade.return_due_at_us),
        "payment_id": trade.payment_id,
        "paid": render_limit(trade.paid_minor, currency),
        "reason": trade.reason,
        "created_at": render_iso_millis(trade.created_at_us),
        "updated_at": render_iso_millis(trade.updated_at_us),
        "confirmed_at": render_instant(trade.confirmed_at_us),
        "settled_at": render_instant(trade.settled_at_us),
        "steps": [render_step(step, currency) for step in view.steps],
        "reviews": [render_review(r, domain, visible=shown) for r, shown in view.reviews],
    }  # fmt: skip


def render_voice(voice: Voice, domain: str) -> dict[str, Any]:
    return {
        "reviewer": render_party(voice.reviewer, domain),
        "mean_rating": str(to_decimal(voice.mean)),
        "weight": str(to_decimal(voice.weight)),
        "other_counterparties": voice.other_counterparties,
        "trade_ids": list(voice.trade_ids),
    }


def render_reputation(reputation: Reputation, domain: str) -> dict[str, Any]:
    return {
        "member": render_party(reputation.subject, domain),
        "score": str(reputation.score),
        "reviewer_count": reputation.reviewer_count,
        "voices": [render_voice(voice, domain) for voice in reputation.voices],
        "reviews": [render_review(review, domain) for review in reputation.reviews],
    }


def render_listing(view: ListingView, at_us: int) -> dict[str, Any]:
    """A listing as `listing_schemas` describes it (``ListingDetail``)."""
    row = view.row
    price = None
    if row["price_text"] is not None:
        price = {"amount": row["price_text"], "currency": row["currency_code"]}
    return {
        "id": str(row["id"]),
        "uri": row["uri"],
        "author": render_handle(view.author_username, view.author_domain),
        "local": row["local"],
        "community": row["community_uri"],
        "purpose": row["purpose"],
        "kind": row["kind"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "price": price,
        "quantity": row["quantity"],
        "unit": row["unit"],
        "location": row["location"],
        "expires_at": render_instant(row["expires_at_us"]),
        "published_at": render_iso_millis(row["published_at_us"]),
        "updated_at": render_instant(row["updated_at_us"]),
        "state": view.state(at_us),
        "photos": [
            {"url": p.url, "media_type": p.media_type, "width": p.width, "height": p.height,
             "description": p.description}
            for p in view.photos
        ],
    }  # fmt: skip


def render_match(match: MatchView, at_us: int) -> dict[str, Any]:
    return {
        "id": str(match.id),
        "score": match.score,
        "created_at": render_iso_millis(match.created_at_us),
        "own_listing": render_listing(match.own, at_us),
        "listing": render_listing(match.other, at_us),
    }
