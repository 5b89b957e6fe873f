"""The trade lifecycle as a declared state machine: `TRANSITIONS` is the whole of it.

Each `Transition` says which ``action`` moves a trade with one of ``options`` from
``source`` to ``target``, and who may take it (`Who`). `exchange.trades` looks the step
up here and refuses anything the table does not allow:

    action   from       to         who          options
    accept   proposed   agreed     respondent   all
    decline  proposed   declined   respondent   all
    cancel   proposed   cancelled  proposer     all
    cancel   agreed     cancelled  either       all (a reason is required)
    deliver  agreed     delivered  provider     all but swap
    deliver  agreed     delivered  each         swap (both sides deliver)
    confirm  delivered  confirmed  receiver     all but swap
    confirm  delivered  confirmed  each         swap (both sides confirm)
    pay      confirmed  paid       payer        fixed, pay_what_you_feel, rental
    return   paid       returned   provider     rental
    return   confirmed  returned   provider     loan
    settle   paid       settled    system       fixed, pay_what_you_feel
    settle   returned   settled    system       loan, rental
    settle   confirmed  settled    system       gift, swap

The respondent is the party who did not propose. ``each`` means both parties take the
step, in either order; the trade moves when the second one does. ``system`` steps are
taken at once, in the same database transaction, by the step that reaches their source
state: nobody calls ``settle``. ``declined``, ``cancelled`` and ``settled`` are final.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from exchange.errors import InvalidTransition, WrongParty
from exchange.trade_terms import PaymentOption, Role, TradeState

P = PaymentOption
S = TradeState


class Action(StrEnum):
    PROPOSE = "propose"  # the creation of a trade; recorded, never looked up here
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    DELIVER = "deliver"
    CONFIRM = "confirm"
    PAY = "pay"
    RETURN = "return"
    SETTLE = "settle"


class Who(StrEnum):
    PROPOSER = "proposer"
    RESPONDENT = "respondent"
    PROVIDER = "provider"
    RECEIVER = "receiver"
    PAYER = "payer"
    EITHER = "either"
    EACH = "each"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    source: TradeState
    target: TradeState
    who: Who
    options: frozenset[PaymentOption]
    needs_reason: bool = False


ALL = frozenset(PaymentOption)
BUT_SWAP = ALL - {P.SWAP}
SWAP = frozenset({P.SWAP})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.ACCEPT, S.PROPOSED, S.AGREED, Who.RESPONDENT, ALL),
    Transition(Action.DECLINE, S.PROPOSED, S.DECLINED, Who.RESPONDENT, ALL),
    Transition(Action.CANCEL, S.PROPOSED, S.CANCELLED, Who.PROPOSER, ALL),
    Transition(Action.CANCEL, S.AGREED, S.CANCELLED, Who.EITHER, ALL, needs_reason=True),
    Transition(Action.DELIVER, S.AGREED, S.DELIVERED, Who.PROVIDER, BUT_SWAP),
    Transition(Action.DELIVER, S.AGREED, S.DELIVERED, Who.EACH, SWAP),
    Transition(Action.CONFIRM, S.DELIVERED, S.CONFIRMED, Who.RECEIVER, BUT_SWAP),
    Transition(Action.CONFIRM, S.DELIVERED, S.CONFIRMED, Who.EACH, SWAP),
    Transition(
        Action.PAY,
        S.CONFIRMED,
        S.PAID,
        Who.PAYER,
        frozenset({P.FIXED, P.PAY_WHAT_YOU_FEEL, P.RENTAL}),
    ),
    Transition(Action.RETURN, S.PAID, S.RETURNED, Who.PROVIDER, frozenset({P.RENTAL})),
    Transition(Action.RETURN, S.CONFIRMED, S.RETURNED, Who.PROVIDER, frozenset({P.LOAN})),
    Transition(
        Action.SETTLE, S.PAID, S.SETTLED, Who.SYSTEM, frozenset({P.FIXED, P.PAY_WHAT_YOU_FEEL})
    ),
    Transition(Action.SETTLE, S.RETURNED, S.SETTLED, Who.SYSTEM, frozenset({P.LOAN, P.RENTAL})),
    Transition(Action.SETTLE, S.CONFIRMED, S.SETTLED, Who.SYSTEM, frozenset({P.GIFT, P.SWAP})),
)
FINAL_STATES = frozenset({S.DECLINED, S.CANCELLED, S.SETTLED})


def find_transition(option: PaymentOption, state: TradeState, action: Action) -> Transition | None:
    for transition in TRANSITIONS:
        if (transition.action, transition.source) == (
            action,
            state,
        ) and option in transition.options:
            return transition
    return None


def automatic_transition(option: PaymentOption, state: TradeState) -> Transition | None:
    """The ``system`` step that follows ``state`` at once, if any."""
    return find_transition(option, state, Action.SETTLE)


def allowed_roles(who: Who, proposer: Role, payer: Role) -> frozenset[Role]:
    """The parties that may take a step declared for ``who``."""
    named = {
        Who.PROPOSER: proposer,
        Who.RESPONDENT: proposer.other,
        Who.PROVIDER: Role.PROVIDER,
        Who.RECEIVER: Role.RECEIVER,
        Who.PAYER: payer,
    }
    if who in named:
        return frozenset({named[who]})
    return frozenset(Role) if who in (Who.EITHER, Who.EACH) else frozenset()


@dataclass(frozen=True, slots=True)
class Move:
    """What a step does: the transition it follows and the state it leaves the trade in
    (the source state itself when an ``each`` step still waits for the other side)."""

    transition: Transition
    target: TradeState


def plan_step(
    trade_id: str,
    option: PaymentOption,
    state: TradeState,
    action: Action,
    role: Role,
    *,
    proposer: Role,
    payer: Role,
    done_by: frozenset[Role] = frozenset(),
) -> Move:
    """Check that ``role`` may take ``action`` now; ``done_by``: the roles that already
    took it (for ``each`` steps). Raises `InvalidTransition`, `WrongParty`."""
    transition = find_transition(option, state, action)
    if transition is None or transition.who is Who.SYSTEM:
        raise InvalidTransition(trade_id, action.value, state.value)
    if role not in allowed_roles(transition.who, proposer, payer):
        raise WrongParty(trade_id, action.value, transition.who.value)
    if transition.who is Who.EACH and done_by | {role} != frozenset(Role):
        return Move(transition, state)
    return Move(transition, transition.target)
