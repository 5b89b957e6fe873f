"""Helpers for trade, review and reputation tests: proposals and whole lifecycles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from exchange import trades
from exchange.trade_tables import reviews, steps
from exchange.trade_tables import trades as trade_rows
from exchange.trade_terms import (
    ListingKind,
    ListingRef,
    Party,
    PaymentOption,
    Role,
    TradeProposal,
)
from tests.exchange.conftest import T0
from tests.exchange.snapshots import ledger_snapshot

DAY_US = 86_400 * 1_000_000
BIKE = ListingRef("https://a.example/listings/1", "A bicycle", ListingKind.OFFER)
PRICES = {PaymentOption.FIXED: 2_000, PaymentOption.RENTAL: 1_500}


def proposal(
    trade_id: str,
    option: PaymentOption = PaymentOption.FIXED,
    provider: Party | str = "alice",
    receiver: Party | str = "bob",
    **changes: Any,
) -> TradeProposal:
    """Terms that fit ``option``: its usual price and, for loans and rentals, a return date."""
    values: dict[str, Any] = {
        "trade_id": trade_id,
        "listing": BIKE,
        "option": option,
        "provider": provider if isinstance(provider, Party) else Party.local(provider),
        "receiver": receiver if isinstance(receiver, Party) else Party.local(receiver),
        "currency_code": "KRZ",
        "price_minor": PRICES.get(option),
    }
    if option in (PaymentOption.LOAN, PaymentOption.RENTAL):
        values["return_due_at_us"] = T0 + 30 * DAY_US
    values.update(changes)
    return TradeProposal(**values)


def parties(terms: TradeProposal) -> tuple[Party, Party]:
    return terms.provider, terms.receiver


async def settle(db, terms: TradeProposal, now_us: int = T0 + 1, amount_minor: int | None = None):
    """Take ``terms`` from proposal to settlement with every step its option needs."""
    provider, receiver = parties(terms)
    payer = terms.provider if terms.payer is Role.PROVIDER else terms.receiver
    trade_id, option = terms.trade_id, terms.option
    await db.write(trades.propose, terms, receiver, now_us)
    await db.write(trades.accept, trade_id, provider, now_us)
    await db.write(trades.deliver, trade_id, provider, now_us)
    if option is PaymentOption.SWAP:
        await db.write(trades.deliver, trade_id, receiver, now_us)
        await db.write(trades.confirm, trade_id, provider, now_us)
    trade = await db.write(trades.confirm, trade_id, receiver, now_us)
    if option in (PaymentOption.FIXED, PaymentOption.PAY_WHAT_YOU_FEEL, PaymentOption.RENTAL):
        amount = amount_minor if option is PaymentOption.PAY_WHAT_YOU_FEEL else None
        trade = await db.write(trades.pay, trade_id, payer, now_us, amount_minor=amount)
    if option in (PaymentOption.LOAN, PaymentOption.RENTAL):
        trade = await db.write(trades.mark_returned, trade_id, provider, now_us)
    return trade


def everything(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every ledger, trade, step and review row: to prove a refusal changed nothing.

    The trade tables share the ledger's metadata, so the ledger's snapshot covers them;
    the assertion keeps that true."""
    copy = ledger_snapshot(conn)
    assert {trade_rows.name, steps.name, reviews.name} <= copy.keys()
    return copy
