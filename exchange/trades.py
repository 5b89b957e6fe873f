"""The trade lifecycle: propose, then the steps of `exchange.trade_machine`, each checked.

Every function takes a ``Connection`` inside a database transaction (``db.write``), the
acting party (``actor``: a `Party`, or a local account id as a string) and ``now_us``.

* **Who.** Only the two parties act (`NotAParty` otherwise); each step belongs to the
  party the machine names (`WrongParty`) and to the states it names
  (`InvalidTransition`). A refused step changes nothing.
* **Idempotency.** `propose` takes a caller-chosen trade id: the same id with the same
  terms returns the stored trade, other terms raise `TradeConflict`. Each step may carry
  a caller-chosen ``step_id`` (unique within the trade); and a party repeating a step
  they already took, with the same data, is a no-op whatever state the trade has
  reached since, while the same step with other data raises `TradeConflict`.
* **Payment.** `pay` books the ledger part of the price with `exchange.issuance.pay_sale`
  (so the community's co-pay applies, judged on the payer's reputation from
  `exchange.reputation.buyer_reputation` at ``now_us``), under the transfer id
  ``trade:<trade id>`` (`payment_transfer_id`); the statement of both members shows it
  under that reference. Amounts paid outside the ledger are recorded, never booked. A
  trade with another community books nothing here: its price is paid through clearing
  (the step cites the clearing transfer, checked by `exchange.trade_clearing`) or noted
  as paid outside the ledger.
* **Settlement** follows the last step at once (a ``system`` step in the history).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from exchange.accounts import AccountKind, find_account
from exchange.errors import (
    AccountClosed,
    InvalidRequest,
    NotAParty,
    TradeConflict,
    UnknownAccount,
    WrongCurrency,
)
from exchange.issuance import Sale, pay_sale
from exchange.money import check_amount
from exchange.reputation import buyer_reputation
from exchange.settings import get_currency
from exchange.trade_clearing import check_clearing_payment
from exchange.trade_machine import Action, Move, automatic_transition, plan_step
from exchange.trade_store import (
    TradeStep,
    find_trade,
    find_trade_by_agreement,
    get_trade,
    insert_step,
    list_steps,
    list_trades_of,
    lock_trade,
    outside_columns,
    proposal_row,
    proposal_step,
    system_step,
    update_trade,
)
from exchange.trade_tables import trades
from exchange.trade_terms import (
    MAX_REASON_CHARS,
    PRICED,
    OutsidePayment,
    Party,
    PaymentOption,
    Role,
    Trade,
    TradeProposal,
    TradeState,
    as_party,
    check_text,
    payment_transfer_id,
)

__all__ = [
    "accept", "cancel", "confirm", "decline", "deliver", "find_trade",
    "find_trade_by_agreement", "get_trade",
    "list_steps", "list_trades_of", "mark_returned", "pay", "payment_transfer_id", "propose",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Request:
    action: Action
    actor: Party
    step_id: str | None = None
    amount_minor: int | None = None
    outside: OutsidePayment | None = None
    reason: str | None = None
    clearing_transfer_id: str | None = None


def _same_terms(trade: Trade, proposal: TradeProposal, proposer: Role) -> bool:
    return (
        trade.listing, trade.option, trade.provider, trade.receiver, trade.proposer,
        trade.payer, trade.currency_code, trade.price_minor, trade.outside,
        trade.return_due_at_us, trade.agreement_uri, trade.clearing_scale,
    ) == (
        proposal.listing, proposal.option, proposal.provider, proposal.receiver, proposer,
        proposal.payer, proposal.currency_code, proposal.price_minor, proposal.outside,
        proposal.return_due_at_us, proposal.agreement_uri, proposal.clearing_scale,
    )  # fmt: skip


def _check_local(conn: Connection, party: Party) -> None:
    if party.account_id is None:
        return
    account = find_account(conn, party.account_id)
    if account is None:
        raise UnknownAccount(party.account_id)
    if account.kind is not AccountKind.MEMBER:
        raise InvalidRequest("a party of a trade is a member")
    if not account.is_open:
        raise AccountClosed(party.account_id)


def _insert_new(conn: Connection, proposal: TradeProposal, proposer: Role, now_us: int) -> bool:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    row = proposal_row(proposal, proposer, now_us)
    statement = dialect.insert(trades).values(**row).on_conflict_do_nothing()
    return bool(conn.execute(statement).rowcount)


def propose(conn: Connection, proposal: TradeProposal, actor: Party | str, now_us: int) -> Trade:
    """Create a trade in state ``proposed``; ``actor`` is its provider or receiver.

    Raises `NotAParty`, `TradeConflict` (the id, or the agreement, used for other terms),
    `UnknownAccount`, `AccountClosed`,
    `WrongCurrency`, `InvalidRequest` (a return date in the past), `LedgerNotReady`.
    """
    proposer = _role(proposal.provider, proposal.receiver, as_party(actor), proposal.trade_id)
    existing = find_trade(conn, proposal.trade_id)
    if existing is None:
        _check_local(conn, proposal.provider)
        _check_local(conn, proposal.receiver)
        # A trade paid through clearing may be priced in another community's currency.
        if proposal.clearing_scale is None and proposal.currency_code != get_currency(conn).code:
            raise WrongCurrency("a trade is priced in this community's currency")
        due = proposal.return_due_at_us
        if due is not None and due <= now_us:
            raise InvalidRequest("a return date is in the future")
        if _insert_new(conn, proposal, proposer, now_us):
            insert_step(conn, proposal.trade_id, proposal_step(proposer, now_us))
        existing = find_trade(conn, proposal.trade_id)
    if existing is None:  # the insert met another trade with the same agreement
        raise TradeConflict("this agreement is recorded as another trade", proposal.trade_id)
    if not _same_terms(existing, proposal, proposer):
        raise TradeConflict("this trade id was used for other terms", proposal.trade_id)
    return existing


def _role(provider: Party, receiver: Party, actor: Party, trade_id: str) -> Role:
    if actor == provider:
        return Role.PROVIDER
    if actor == receiver:
        return Role.RECEIVER
    raise NotAParty(trade_id)


def _same_data(step: TradeStep, request: _Request) -> bool:
    return (step.amount_minor, step.outside, step.reason) == (
        request.amount_minor,
        request.outside,
        request.reason,
    )


def _replay(history: list[TradeStep], request: _Request, role: Role, trade_id: str) -> bool:
    """Whether ``request`` repeats a step already taken (then it changes nothing)."""
    for step in history:
        same_key = request.step_id is not None and step.step_id == request.step_id
        same_step = (step.action, step.actor_role) == (request.action, role)
        if same_key or same_step:
            if same_step and _same_data(step, request):
                return True
            raise TradeConflict(f"this {request.action.value} was taken with other data", trade_id)
    return False


def _with_price(trade: Trade, request: _Request) -> _Request:
    """A payment of a fixed or rental trade without an amount pays the agreed price."""
    if request.action is Action.PAY and trade.option in PRICED and request.amount_minor is None:
        return replace(request, amount_minor=trade.price_minor)
    return request


def _check_data(trade: Trade, request: _Request, move: Move) -> None:
    check_text(request.reason, "reason", MAX_REASON_CHARS)
    if move.transition.needs_reason and not (request.reason or "").strip():
        raise InvalidRequest(f"to {request.action.value} now, give a reason")
    if request.action is not Action.PAY:
        if request.amount_minor is not None or request.outside is not None:
            raise InvalidRequest(f"{request.action.value} takes no amount")
    elif trade.option is PaymentOption.PAY_WHAT_YOU_FEEL:
        if request.amount_minor is None:
            raise InvalidRequest("pay what you feel: the payer names the amount")
        check_amount(request.amount_minor, allow_zero=True)
    elif request.outside is not None or request.amount_minor != trade.price_minor:
        raise InvalidRequest("the price was agreed: pay it as agreed")


def _book_payment(conn: Connection, trade: Trade, amount_minor: int, now_us: int) -> str | None:
    if amount_minor == 0:
        return None
    payer, payee = trade.party(trade.payer), trade.party(trade.payee)
    if payer.account_id is None or payee.account_id is None:
        raise InvalidRequest("a trade with another community books nothing in this ledger")
    sale = Sale(
        payment_id=payment_transfer_id(trade.id),
        buyer_account_id=payer.account_id,
        seller_account_id=payee.account_id,
        price_minor=amount_minor,
        currency_code=trade.currency_code,
        memo=trade.listing.title,
    )
    outcome = pay_sale(conn, sale, buyer_reputation(conn, payer, now_us), now_us)
    return outcome.payment.id


def _effects(
    conn: Connection, trade: Trade, request: _Request, move: Move, now_us: int
) -> dict[str, object]:
    """The trade's new column values after ``request`` (booking its payment, if any)."""
    values: dict[str, object] = {"state": move.target}
    if request.action is Action.PAY:
        amount = request.amount_minor or 0
        if trade.is_cleared or request.clearing_transfer_id is not None:
            transfer_id = request.clearing_transfer_id
            values["payment_id"] = check_clearing_payment(conn, trade, transfer_id)
        else:
            values["payment_id"] = _book_payment(conn, trade, amount, now_us)
        values["paid_minor"] = amount
        values.update(outside_columns(request.outside or trade.outside))
    if request.action in (Action.DECLINE, Action.CANCEL):
        values["reason"] = request.reason
    if move.target is TradeState.CONFIRMED:
        values["confirmed_at_us"] = now_us
    return values


def _record(
    conn: Connection, trade: Trade, step: TradeStep, values: dict[str, object], now_us: int
) -> Trade:
    """Store the step, the ``system`` step that follows it if any, and the trade's row."""
    insert_step(conn, trade.id, step)
    if step.to_state != step.from_state:
        auto = automatic_transition(trade.option, step.to_state)
        if auto is not None:
            insert_step(conn, trade.id, system_step(step.seq + 1, auto, now_us))
            values.update(state=auto.target, settled_at_us=now_us)
    update_trade(conn, trade.id, now_us, **values)
    return get_trade(conn, trade.id)


def _step(conn: Connection, trade_id: str, request: _Request, now_us: int) -> Trade:
    """Take a step, or recognise a repeated one (see the module docstring)."""
    trade = lock_trade(conn, trade_id)
    role = _role(trade.provider, trade.receiver, request.actor, trade_id)
    history = list_steps(conn, trade_id)
    request = _with_price(trade, request)
    if _replay(history, request, role, trade_id):
        return trade
    done_by = frozenset(s.actor_role for s in history if s.action is request.action)
    move = plan_step(
        trade_id,
        trade.option,
        trade.state,
        request.action,
        role,
        proposer=trade.proposer,
        payer=trade.payer,
        done_by=frozenset(r for r in done_by if r is not None),
    )
    _check_data(trade, request, move)
    values = _effects(conn, trade, request, move, now_us)
    step = TradeStep(
        seq=len(history) + 1,
        step_id=request.step_id,
        action=request.action,
        actor_role=role,
        from_state=trade.state,
        to_state=move.target,
        amount_minor=request.amount_minor,
        outside=request.outside,
        reason=request.reason,
        at_us=now_us,
    )
    return _record(conn, trade, step, values, now_us)


def accept(
    conn: Connection, trade_id: str, actor: Party | str, now_us: int, *, step_id: str | None = None
) -> Trade:
    """The respondent (the party who did not propose) agrees: ``proposed`` → ``agreed``."""
    return _step(conn, trade_id, _Request(Action.ACCEPT, as_party(actor), step_id), now_us)


def decline(
    conn: Connection,
    trade_id: str,
    actor: Party | str,
    now_us: int,
    *,
    reason: str | None = None,
    step_id: str | None = None,
) -> Trade:
    """The respondent declines: ``proposed`` → ``declined`` (final)."""
    request = _Request(Action.DECLINE, as_party(actor), step_id, reason=reason)
    return _step(conn, trade_id, request, now_us)


def cancel(
    conn: Connection,
    trade_id: str,
    actor: Party | str,
    now_us: int,
    *,
    reason: str | None = None,
    step_id: str | None = None,
) -> Trade:
    """The proposer withdraws a proposal, or either party calls off an agreed trade
    before delivery (a ``reason`` is then required): → ``cancelled`` (final)."""
    request = _Request(Action.CANCEL, as_party(actor), step_id, reason=reason)
    return _step(conn, trade_id, request, now_us)


def deliver(
    conn: Connection, trade_id: str, actor: Party | str, now_us: int, *, step_id: str | None = None
) -> Trade:
    """The provider has delivered (in a swap, each side marks its own delivery)."""
    return _step(conn, trade_id, _Request(Action.DELIVER, as_party(actor), step_id), now_us)


def confirm(
    conn: Connection, trade_id: str, actor: Party | str, now_us: int, *, step_id: str | None = None
) -> Trade:
    """The receiver confirms the delivery (in a swap, each side confirms); a gift or a
    swap is then settled."""
    return _step(conn, trade_id, _Request(Action.CONFIRM, as_party(actor), step_id), now_us)


def pay(
    conn: Connection,
    trade_id: str,
    actor: Party | str,
    now_us: int,
    *,
    amount_minor: int | None = None,
    outside: OutsidePayment | None = None,
    step_id: str | None = None,
    clearing_transfer_id: str | None = None,
) -> Trade:
    """The payer pays a confirmed trade: the agreed price (``amount_minor`` may be left
    out or must equal it), or for pay-what-you-feel the ``amount_minor`` they choose
    (zero allowed) and any part paid ``outside`` the ledger. A trade paid through
    clearing cites the ``clearing_transfer_id`` that paid its price. A fixed or
    pay-what-you-feel trade is then settled; a rental waits for the return.

    Raises, besides the step errors, what `exchange.issuance.pay_sale` raises
    (`CreditLimitExceeded` for the payer, `UpperLimitExceeded`, `AccountClosed`, ...),
    and `PaymentNotCleared`.
    """
    request = _Request(
        Action.PAY, as_party(actor), step_id, amount_minor, outside,
        clearing_transfer_id=clearing_transfer_id,
    )  # fmt: skip
    return _step(conn, trade_id, request, now_us)


def mark_returned(
    conn: Connection, trade_id: str, actor: Party | str, now_us: int, *, step_id: str | None = None
) -> Trade:
    """The provider has the lent or rented thing back: → ``returned``, then settled."""
    return _step(conn, trade_id, _Request(Action.RETURN, as_party(actor), step_id), now_us)
