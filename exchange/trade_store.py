"""Reading and writing trade rows and their steps (`exchange.trade_tables`).

The lifecycle rules are in `exchange.trades`; this module only maps rows to values and
back. `lock_trade` takes the trade's row lock (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite's single writer serialises writes anyway), so two steps on one trade never
interleave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from exchange.errors import UnknownTrade
from exchange.trade_machine import Action, Transition
from exchange.trade_tables import steps, trades
from exchange.trade_terms import (
    ListingKind,
    ListingRef,
    OutsidePayment,
    Party,
    PaymentOption,
    Role,
    Trade,
    TradeProposal,
    TradeState,
)


@dataclass(frozen=True, slots=True)
class TradeStep:
    """One entry of a trade's history. ``actor_role`` is ``None`` for system steps."""

    seq: int
    step_id: str | None
    action: Action
    actor_role: Role | None
    from_state: TradeState
    to_state: TradeState
    amount_minor: int | None
    outside: OutsidePayment | None
    reason: str | None
    at_us: int


def proposal_step(proposer: Role, now_us: int) -> TradeStep:
    """The first entry of every trade's history."""
    state = TradeState.PROPOSED
    return TradeStep(1, None, Action.PROPOSE, proposer, state, state, None, None, None, now_us)


def system_step(seq: int, transition: Transition, now_us: int) -> TradeStep:
    """A step the machine takes by itself (settlement)."""
    return TradeStep(
        seq, None, transition.action, None, transition.source, transition.target,
        None, None, None, now_us,
    )  # fmt: skip


def _party(account_id: str | None, actor_uri: str | None) -> Party:
    return Party(account_id=account_id, actor_uri=actor_uri)


def _outside(currency: str | None, amount: str | None) -> OutsidePayment | None:
    if currency is None or amount is None:
        return None
    return OutsidePayment(currency, Decimal(amount))


def outside_columns(outside: OutsidePayment | None) -> dict[str, str | None]:
    if outside is None:
        return {"outside_currency": None, "outside_amount": None}
    return {"outside_currency": outside.currency, "outside_amount": str(outside.amount)}


def party_columns(prefix: str, party: Party) -> dict[str, str | None]:
    return {f"{prefix}_account_id": party.account_id, f"{prefix}_actor_uri": party.actor_uri}


def trade_from_row(row: Any) -> Trade:
    return Trade(
        id=row.id,
        listing=ListingRef(row.listing_ref, row.listing_title, ListingKind(row.listing_kind)),
        option=PaymentOption(row.option),
        state=TradeState(row.state),
        provider=_party(row.provider_account_id, row.provider_actor_uri),
        receiver=_party(row.receiver_account_id, row.receiver_actor_uri),
        proposer=Role(row.proposer),
        payer=Role(row.payer),
        currency_code=row.currency_code,
        price_minor=row.price_minor,
        outside=_outside(row.outside_currency, row.outside_amount),
        return_due_at_us=row.return_due_at_us,
        agreement_uri=row.agreement_uri,
        payment_id=row.payment_id,
        paid_minor=row.paid_minor,
        reason=row.reason,
        created_at_us=row.created_at_us,
        updated_at_us=row.updated_at_us,
        confirmed_at_us=row.confirmed_at_us,
        settled_at_us=row.settled_at_us,
        clearing_scale=row.clearing_scale,
    )


def step_from_row(row: Any) -> TradeStep:
    role = None if row.actor_role == "system" else Role(row.actor_role)
    return TradeStep(
        seq=row.seq,
        step_id=row.step_id,
        action=Action(row.action),
        actor_role=role,
        from_state=TradeState(row.from_state),
        to_state=TradeState(row.to_state),
        amount_minor=row.amount_minor,
        outside=_outside(row.outside_currency, row.outside_amount),
        reason=row.reason,
        at_us=row.at_us,
    )


def find_trade(conn: Connection, trade_id: str) -> Trade | None:
    row = conn.execute(select(trades).where(trades.c.id == trade_id)).first()
    return None if row is None else trade_from_row(row)


def get_trade(conn: Connection, trade_id: str) -> Trade:
    """The trade; raises `UnknownTrade`."""
    found = find_trade(conn, trade_id)
    if found is None:
        raise UnknownTrade(trade_id)
    return found


def find_trade_by_agreement(conn: Connection, agreement_uri: str) -> Trade | None:
    """The local record of a cross-community trade, by its FEP-0837 Agreement's id."""
    row = conn.execute(select(trades).where(trades.c.agreement_uri == agreement_uri)).first()
    return None if row is None else trade_from_row(row)


def lock_trade(conn: Connection, trade_id: str) -> Trade:
    """The trade, its row locked until the end of the transaction; raises `UnknownTrade`."""
    row = conn.execute(select(trades).where(trades.c.id == trade_id).with_for_update()).first()
    if row is None:
        raise UnknownTrade(trade_id)
    return trade_from_row(row)


def list_steps(conn: Connection, trade_id: str) -> list[TradeStep]:
    """A trade's history, oldest first (empty for an unknown trade)."""
    query = select(steps).where(steps.c.trade_id == trade_id).order_by(steps.c.seq)
    return [step_from_row(row) for row in conn.execute(query)]


def party_filter(prefix: str, parties: Iterable[Party]) -> ColumnElement[bool]:
    """Trades whose ``<prefix>`` party (provider or receiver) is one of ``parties``."""
    chosen = list(parties)
    ids = [p.account_id for p in chosen if p.account_id is not None]
    uris = [p.actor_uri for p in chosen if p.actor_uri is not None]
    return or_(trades.c[f"{prefix}_account_id"].in_(ids), trades.c[f"{prefix}_actor_uri"].in_(uris))


def list_trades_of(
    conn: Connection, party: Party, *, state: TradeState | None = None, limit: int = 100
) -> list[Trade]:
    """The trades ``party`` is in (as provider or receiver), newest first."""
    query = select(trades).where(
        or_(party_filter("provider", [party]), party_filter("receiver", [party]))
    )
    if state is not None:
        query = query.where(trades.c.state == state.value)
    query = query.order_by(trades.c.created_at_us.desc(), trades.c.id).limit(max(1, limit))
    return [trade_from_row(row) for row in conn.execute(query)]


def proposal_row(proposal: TradeProposal, proposer: Role, now_us: int) -> dict[str, Any]:
    """The ``trades`` row of a new trade."""
    return {
        "id": proposal.trade_id,
        "listing_ref": proposal.listing.ref,
        "listing_title": proposal.listing.title,
        "listing_kind": proposal.listing.kind.value,
        "option": proposal.option.value,
        "state": TradeState.PROPOSED.value,
        "proposer": proposer.value,
        "payer": proposal.payer.value,
        "remote": proposal.provider.is_remote or proposal.receiver.is_remote,
        "currency_code": proposal.currency_code,
        "price_minor": proposal.price_minor,
        "return_due_at_us": proposal.return_due_at_us,
        "agreement_uri": proposal.agreement_uri,
        "clearing_scale": proposal.clearing_scale,
        "created_at_us": now_us,
        "updated_at_us": now_us,
        **party_columns("provider", proposal.provider),
        **party_columns("receiver", proposal.receiver),
        **outside_columns(proposal.outside),
    }


def insert_step(conn: Connection, trade_id: str, step: TradeStep) -> None:
    conn.execute(
        steps.insert().values(
            trade_id=trade_id,
            seq=step.seq,
            step_id=step.step_id,
            action=step.action.value,
            actor_role="system" if step.actor_role is None else step.actor_role.value,
            from_state=step.from_state.value,
            to_state=step.to_state.value,
            amount_minor=step.amount_minor,
            reason=step.reason,
            at_us=step.at_us,
            **outside_columns(step.outside),
        )
    )


def update_trade(conn: Connection, trade_id: str, now_us: int, **values: Any) -> None:
    values = {k: v.value if isinstance(v, TradeState) else v for k, v in values.items()}
    conn.execute(
        update(trades).where(trades.c.id == trade_id).values(updated_at_us=now_us, **values)
    )


def settled_between(parties: Iterable[Party]) -> ColumnElement[bool]:
    """Settled trades with one of ``parties`` on either side."""
    chosen = list(parties)
    return and_(
        trades.c.state == TradeState.SETTLED.value,
        or_(party_filter("provider", chosen), party_filter("receiver", chosen)),
    )
