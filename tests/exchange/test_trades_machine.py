"""The declared trade state machine and the trade terms, checked without a database."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from exchange import trade_machine
from exchange.errors import InvalidAmount, InvalidRequest, InvalidTransition, WrongParty
from exchange.trade_machine import (
    FINAL_STATES,
    TRANSITIONS,
    Action,
    Who,
    allowed_roles,
    find_transition,
    plan_step,
)
from exchange.trade_terms import (
    OutsidePayment,
    Party,
    PaymentOption,
    Role,
    TradeState,
    parse_outside_payment,
)
from tests.exchange.trading import proposal

REMOTE = Party.remote("https://b.example/users/dora")


def test_each_step_has_at_most_one_transition():
    """For an option, a state and an action, the table holds at most one transition."""
    keys = [(o, t.source, t.action) for t in TRANSITIONS for o in t.options]
    assert len(keys) == len(set(keys))


def test_the_docstring_table_is_the_declared_table():
    """The table in the module docstring (copied into the docs) matches TRANSITIONS."""
    doc = trade_machine.__doc__ or ""
    rows = re.findall(r"^    (\w+) +(\w+) +(\w+) +(\w+) +(.+)$", doc, re.MULTILINE)
    declared = [(t.action, t.source, t.target, t.who) for t in TRANSITIONS]
    assert [tuple(row[:4]) for row in rows[1:]] == declared


@pytest.mark.parametrize("option", list(PaymentOption))
def test_every_option_has_a_path_to_settled_and_final_states_are_final(option):
    """Following the non-cancel steps from ``proposed`` always reaches ``settled``."""
    state, seen = TradeState.PROPOSED, []
    while state is not TradeState.SETTLED:
        moves = [
            t
            for t in TRANSITIONS
            if t.source is state and option in t.options and t.action is not Action.CANCEL
        ]
        moves = [t for t in moves if t.target not in (TradeState.DECLINED,)]
        assert len(moves) == 1, (option, state)
        seen.append(moves[0].action)
        state = moves[0].target
    assert (Action.PAY in seen) == (option in ("fixed", "pay_what_you_feel", "rental"))
    assert (Action.RETURN in seen) == (option in ("loan", "rental"))
    assert not [t for t in TRANSITIONS if t.source in FINAL_STATES]


def test_who_names_the_right_roles():
    """Proposer and respondent follow who proposed; the payer follows the terms."""
    assert allowed_roles(Who.RESPONDENT, Role.RECEIVER, Role.RECEIVER) == {Role.PROVIDER}
    assert allowed_roles(Who.PAYER, Role.RECEIVER, Role.PROVIDER) == {Role.PROVIDER}
    assert allowed_roles(Who.EITHER, Role.PROVIDER, Role.RECEIVER) == set(Role)
    assert allowed_roles(Who.SYSTEM, Role.PROVIDER, Role.RECEIVER) == set()


def test_planning_refuses_wrong_states_wrong_parties_and_system_steps():
    """plan_step raises InvalidTransition or WrongParty; a swap waits for both sides."""
    args = {"proposer": Role.RECEIVER, "payer": Role.RECEIVER}
    fixed, swap = PaymentOption.FIXED, PaymentOption.SWAP
    with pytest.raises(InvalidTransition):
        plan_step("t", fixed, TradeState.PROPOSED, Action.PAY, Role.RECEIVER, **args)
    with pytest.raises(WrongParty):
        plan_step("t", fixed, TradeState.AGREED, Action.DELIVER, Role.RECEIVER, **args)
    with pytest.raises(InvalidTransition):
        plan_step("t", fixed, TradeState.PAID, Action.SETTLE, Role.RECEIVER, **args)
    first = plan_step("t", swap, TradeState.AGREED, Action.DELIVER, Role.RECEIVER, **args)
    second = plan_step(
        "t", swap, TradeState.AGREED, Action.DELIVER, Role.PROVIDER,
        done_by=frozenset({Role.RECEIVER}), **args,
    )  # fmt: skip
    assert (first.target, second.target) == (TradeState.AGREED, TradeState.DELIVERED)
    assert find_transition(fixed, TradeState.SETTLED, Action.ACCEPT) is None


BAD_TERMS = {
    "an unknown option": ({"option": "barter"}, InvalidRequest),
    "an unknown payer": ({"payer": "bank"}, InvalidRequest),
    "a gift with a price": ({"option": PaymentOption.GIFT, "price_minor": 5}, InvalidRequest),
    "a fixed trade without price": ({"price_minor": None}, InvalidRequest),
    "a price of zero without euros": ({"price_minor": 0}, InvalidRequest),
    "a negative price": ({"price_minor": -1}, InvalidAmount),
    "a loan without return date": (
        {"option": PaymentOption.LOAN, "return_due_at_us": None},
        InvalidRequest,
    ),
    "a sale with a return date": ({"return_due_at_us": 5}, InvalidRequest),
    "one party twice": ({"receiver": Party.local("alice")}, InvalidRequest),
    "two remote parties": (
        {"provider": REMOTE, "receiver": Party.remote("https://c.example/u")},
        InvalidRequest,
    ),
    "ledger money across communities": ({"receiver": REMOTE}, InvalidRequest),
    "clearing within the community": ({"clearing_scale": 2}, InvalidRequest),
    "clearing with a part outside": (
        {"receiver": REMOTE, "clearing_scale": 2, "outside": OutsidePayment("EUR", Decimal(1))},
        InvalidRequest,
    ),
    "clearing for a gift": (
        {
            "option": PaymentOption.GIFT,
            "price_minor": None,
            "receiver": REMOTE,
            "clearing_scale": 0,
        },
        InvalidRequest,
    ),
    "clearing at an impossible scale": ({"receiver": REMOTE, "clearing_scale": 99}, InvalidRequest),
    "a trade id too long": ({"trade_id": "t" * 191}, InvalidRequest),
    "a bad agreement URI": ({"agreement_uri": "ftp://x"}, InvalidRequest),
}


@pytest.mark.parametrize("name", BAD_TERMS)
def test_bad_terms_are_refused_on_construction(name):
    """Terms that do not fit their payment option raise InvalidRequest."""
    changes, error = BAD_TERMS[name]
    changes = {"trade_id": "t1", "option": PaymentOption.FIXED, **changes}
    with pytest.raises(error):
        proposal(changes.pop("trade_id"), changes.pop("option"), **changes)


def test_a_price_with_another_community_is_paid_through_clearing_in_its_currency():
    """A remote trade may be priced in another currency when paid through clearing."""
    terms = proposal("t1", receiver=REMOTE, currency_code="BBB", clearing_scale=0)
    assert (terms.price_minor, terms.clearing_scale, terms.outside) == (2_000, 0, None)


def test_terms_take_the_enums_string_values():
    """Options and roles given as their wire strings are stored as the enums."""
    terms = proposal("t1", "rental", payer="provider")
    assert (terms.option, terms.payer) == (PaymentOption.RENTAL, Role.PROVIDER)


def test_outside_payments_parse_strictly():
    """``EUR 5.00`` parses; anything vaguer or non-positive is refused."""
    assert parse_outside_payment("EUR 5.00") == OutsidePayment("EUR", Decimal("5.00"))
    for text in ("EUR5", "eur 5", "EUR -5", "EUR 0", "EUR 1e3", "EUR 5.00001", "5 EUR", ""):
        with pytest.raises(InvalidRequest):
            parse_outside_payment(text)


def test_a_party_is_an_account_or_an_actor_uri():
    """Exactly one reference; URIs must be http(s)."""
    for bad in ({}, {"account_id": "a", "actor_uri": "https://x/u"}, {"actor_uri": "javascript:x"}):
        with pytest.raises(InvalidRequest):
            Party(**bad)
    assert REMOTE.is_remote and not Party.local("alice").is_remote
