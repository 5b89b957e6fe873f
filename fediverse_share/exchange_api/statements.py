"""Statements as the API shows them: entries, and the clearing legs they belong to.

An entry of a transfer between communities (kind ``clearing``: the member's own leg,
held, then posted, voided or expired) carries ``clearing``: the clearing transfer's id,
this community's role on its path (``payer`` or ``payee``), the path, the payee and the
leg's state. When the payer wrote no memo, the entry says what it was: "payment to
acct:bob@b.example" for the payer, "payment from a member of a.example" for the payee
(the payer's name does not travel between communities). Other entries have
``clearing: null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from exchange import clearing_tables as ct
from exchange.clearing import Leg, LegRole, leg_from_row
from exchange.money import Currency, render_amount
from exchange.statements import StatementEntry, StatementPage
from fediverse_share.clock import render_iso_millis
from fediverse_share.exchange_api.render import render_instant


def find_legs(conn: Connection, page: StatementPage) -> dict[str, Leg]:
    """The clearing legs the entries of ``page`` belong to, by their ``ref``."""
    refs = {e.reference for e in page.entries if e.reference and e.reference.startswith("clr:")}
    if not refs:
        return {}
    rows = conn.execute(select(ct.legs).where(ct.legs.c.ref.in_(sorted(refs))))
    return {row.ref: leg_from_row(row) for row in rows}


def describe_leg(leg: Leg) -> str:
    """What a member's statement says of a clearing leg that has no memo."""
    if leg.role is LegRole.PAYER:
        return f"payment to {leg.destination}"
    return f"payment from a member of {leg.path[0]}"


def render_clearing(leg: Leg) -> dict[str, Any]:
    """The cross-community transfer a statement entry belongs to."""
    return {
        "transfer": leg.transfer_id,
        "role": leg.role.value,
        "path": list(leg.path),
        "destination": leg.destination,
        "state": leg.state.value,
    }


def render_entry(
    entry: StatementEntry, currency: Currency, leg: Leg | None = None
) -> dict[str, Any]:
    """A statement entry; ``leg`` is the clearing leg it belongs to, if any."""
    return {
        "seq": entry.seq,
        "transfer_id": entry.transfer_id,
        "phase": entry.phase.value,
        "kind": entry.kind.value,
        "counterparty": entry.counterparty_account_id,
        "amount": render_amount(entry.amount_minor, currency),
        "balance": render_amount(entry.balance_minor, currency),
        "currency": currency.code,
        "created_at": render_iso_millis(entry.created_at_us),
        "memo": entry.memo or ("" if leg is None else describe_leg(leg)),
        "reference": entry.reference,
        "pending_id": entry.pending_id,
        "expires_at": render_instant(entry.expires_at_us),
        "clearing": None if leg is None else render_clearing(leg),
    }


def render_statement(
    page: StatementPage, currency: Currency, legs: Mapping[str, Leg] | None = None
) -> dict[str, Any]:
    """A page of a statement; ``legs`` are the clearing legs of its entries, by ref."""
    found = legs or {}
    return {
        "currency": currency.code,
        "entries": [
            render_entry(entry, currency, found.get(entry.reference or ""))
            for entry in page.entries
        ],
        "next_cursor": page.next_cursor,
    }
