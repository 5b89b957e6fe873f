"""Wire shapes of clearing in the exchange API: peers, posted rates, and payments to
members of other communities (``render_*``; schemas in `clearing_schemas`).

Rates are exact: ``"3/2"`` or ``"2"`` (`exchange.rates.render_rate`), read as "this many
units of ``currency`` for one unit of ``peer_currency``". A cross-community payment has
the local payment's shape (`render.render_payment`) and more: ``send`` (what the payer
pays, in our currency), ``receive`` (what the payee gets, in theirs), the ``path`` of
communities, the ``rates`` each cited, the clearing ``transfer`` id and, once refused,
the ``error`` code. Its ``legs`` are the transfers of our ledger that carry it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exchange.booking import Transfer
from exchange.money import Currency, render_amount
from exchange.rates import PostedRate, render_rate
from fediverse_share.clearing.payments import CrossPayment, Quote
from fediverse_share.clock import render_iso_millis
from fediverse_share.exchange_api.handles import render_handle
from fediverse_share.exchange_api.render import render_leg, render_limit
from fediverse_share.peer_directory import PeerView


def render_money(amount_minor: int, currency: Currency) -> dict[str, str]:
    return {"amount": render_amount(amount_minor, currency), "currency": currency.code}


def render_posted_rate(rate: PostedRate, currency: Currency) -> dict[str, Any]:
    """A rate posted in ``currency``'s units (its maximum is in them too)."""
    return {
        "id": rate.id,
        "version": rate.version,
        "currency": currency.code,
        "peer_currency": rate.peer_currency_code,
        "rate": render_rate(rate.rate),
        "fee_bps": rate.fee_bps,
        "max_amount": render_money(rate.max_amount_minor, currency),
        "valid_from": render_iso_millis(rate.valid_from_us),
        "valid_until": render_iso_millis(rate.valid_until_us),
    }


def render_peer(view: PeerView, ours: Currency) -> dict[str, Any]:
    """A linked community as members see it."""
    link = view.link
    return {
        "domain": link.domain,
        "status": link.status.value,
        "currency": {"code": link.currency_code, "scale": link.currency_scale},
        "our_rate": None if view.our_rate is None else render_posted_rate(view.our_rate, ours),
        "their_rate": (
            None if view.their_rate is None else render_posted_rate(view.their_rate, view.currency)
        ),
    }


def render_peer_link(view: PeerView, ours: Currency) -> dict[str, Any]:
    """A link as its operators see it: the member's view, the account and the consents."""
    link, account = view.link, view.account
    limits = None if account is None else account.limits
    return {
        **render_peer(view, ours),
        "actor": link.actor_uri,
        "account": link.account_id,
        "balance": None if account is None else render_amount(account.balance_minor, ours),
        "holds": None
        if account is None
        else {
            "debits": render_amount(account.debits_pending_minor, ours),
            "credits": render_amount(account.credits_pending_minor, ours),
        },
        "credit_limit": None if limits is None else render_limit(limits.credit_limit_minor, ours),
        "upper_limit": None if limits is None else render_limit(limits.upper_limit_minor, ours),
        "local_consent": link.local_consent,
        "remote_consent": link.remote_consent,
        "note": link.note,
        "statement_seq": link.statement_seq,
        "updated_at": render_iso_millis(link.updated_at_us),
    }


def render_rates_cited(
    quote: Quote, cached: Mapping[str, PostedRate | None]
) -> list[dict[str, Any]]:
    """The quote each community after ours cites; its terms where we hold them."""
    cited = []
    for domain in quote.path[1:]:
        rate = cached.get(domain)
        cited.append(
            {
                "community": domain,
                "rate_id": quote.rate_ids.get(domain),
                "rate": None if rate is None else render_rate(rate.rate),
                "fee_bps": None if rate is None else rate.fee_bps,
            }
        )
    return cited


def render_cross_quote(
    quote: Quote, ours: Currency, cached: Mapping[str, PostedRate | None]
) -> dict[str, Any]:
    return {
        "id": quote.quote_id,
        "to": quote.destination,
        "send": render_money(quote.amount_minor, ours),
        "receive": render_money(quote.deliver_minor, quote.deliver_currency),
        "fee": None,
        "path": list(quote.path),
        "rates": render_rates_cited(quote, cached),
        "expires_at": render_iso_millis(quote.valid_until_us),
    }


def render_cross_payment(
    payment: CrossPayment,
    ours: Currency,
    domain: str,
    transfers: Sequence[Transfer],
    cached: Mapping[str, PostedRate | None],
) -> dict[str, Any]:
    quote, leg = payment.quote, payment.leg
    assert leg is not None
    return {
        "id": quote.quote_id,
        "state": payment.state,
        "from": render_handle(quote.payer, domain),
        "to": quote.destination,
        "amount": render_amount(quote.deliver_minor, quote.deliver_currency),
        "currency": quote.deliver_currency.code,
        "memo": quote.memo,
        "created_at": render_iso_millis(leg.created_at_us),
        "legs": [render_leg(transfer, ours) for transfer in transfers],
        "send": render_money(quote.amount_minor, ours),
        "receive": render_money(quote.deliver_minor, quote.deliver_currency),
        "path": list(quote.path),
        "rates": render_rates_cited(quote, cached),
        "transfer": quote.transfer_id,
        "error": leg.error_code,
    }
