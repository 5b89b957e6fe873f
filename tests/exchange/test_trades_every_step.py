"""Every step by every actor in every state of every option: refused exactly as the table says."""

from __future__ import annotations

import pytest

from exchange import trades
from exchange.audit import audit
from exchange.errors import InvalidTransition, NotAParty, WrongParty
from exchange.statements import get_statement
from exchange.trade_machine import Action, Who, allowed_roles, find_transition
from exchange.trade_terms import PAYING, RETURNING, PaymentOption, Role, Trade
from tests.exchange.conftest import T0
from tests.exchange.trading import everything, proposal

STEPS = {
    Action.ACCEPT: trades.accept,
    Action.DECLINE: trades.decline,
    Action.CANCEL: trades.cancel,
    Action.DELIVER: trades.deliver,
    Action.CONFIRM: trades.confirm,
    Action.PAY: trades.pay,
    Action.RETURN: trades.mark_returned,
}
ROLES = {"alice": Role.PROVIDER, "bob": Role.RECEIVER}


def data(action: Action, option: PaymentOption) -> dict[str, object]:
    if action in (Action.CANCEL, Action.DECLINE):
        return {"reason": "no longer needed"}
    if action is Action.PAY and option is PaymentOption.PAY_WHAT_YOU_FEEL:
        return {"amount_minor": 300}
    return {}


def happy_path(option: PaymentOption) -> list[tuple[Action, str]]:
    """The steps from ``agreed`` to ``settled`` when bob (receiver) proposed."""
    path = [(Action.ACCEPT, "alice"), (Action.DELIVER, "alice")]
    if option is PaymentOption.SWAP:
        path.append((Action.DELIVER, "bob"))
    path.append((Action.CONFIRM, "bob"))
    if option is PaymentOption.SWAP:
        path.append((Action.CONFIRM, "alice"))
    if option in PAYING:
        path.append((Action.PAY, "bob"))
    if option in RETURNING:
        path.append((Action.RETURN, "alice"))
    return path


def expected(trade: Trade, done: set[tuple[Action, Role]], action: Action, actor: str):
    """What the table predicts: an error class, "repeat" (a no-op), or None (allowed)."""
    role = ROLES.get(actor)
    if role is None:
        return NotAParty
    if (action, role) in done:
        return "repeat"
    transition = find_transition(trade.option, trade.state, action)
    if transition is None or transition.who is Who.SYSTEM:
        return InvalidTransition
    if role not in allowed_roles(transition.who, trade.proposer, trade.payer):
        return WrongParty
    return None


async def try_everything(db, option: PaymentOption, skip: tuple[Action, str] | None) -> int:
    """Attempt every other step by every actor; return how many were tried."""
    trade = await db.read(trades.get_trade, "t")
    done = {(s.action, s.actor_role) for s in await db.read(trades.list_steps, "t")}
    tried = 0
    for action, step in STEPS.items():
        for actor in ("alice", "bob", "carol"):
            outcome = expected(trade, done, action, actor)
            if (action, actor) == skip or outcome is None:
                continue
            before = await db.read(everything)
            if outcome == "repeat":
                await db.write(step, "t", actor, T0 + 5, **data(action, option))
            else:
                with pytest.raises(outcome):
                    await db.write(step, "t", actor, T0 + 5, **data(action, option))
            assert await db.read(everything) == before, (trade.state, action, actor)
            tried += 1
    return tried


@pytest.mark.parametrize("option", list(PaymentOption))
async def test_every_wrong_step_is_refused_and_changes_nothing(ledger, option):
    """Along the whole lifecycle, each step the table does not allow raises NotAParty,
    WrongParty or InvalidTransition, each repeat is a no-op, and no row changes; the
    trade then settles with a clean audit and the payment on both statements."""
    await ledger.write(trades.propose, proposal("t", option), "bob", T0)
    tried = 0
    for action, actor in happy_path(option):
        tried += await try_everything(ledger, option, (action, actor))
        await ledger.write(STEPS[action], "t", actor, T0 + 1, **data(action, option))
    tried += await try_everything(ledger, option, None)
    trade = await ledger.read(trades.get_trade, "t")
    assert trade.state == "settled" and tried > 50
    assert await ledger.read(audit) == []
    page = await ledger.read(get_statement, "alice")
    received = sum(e.amount_minor for e in page.entries if e.reference == "trade:t")
    assert received == (trade.paid_minor or 0)
