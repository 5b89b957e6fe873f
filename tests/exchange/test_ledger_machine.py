"""Property-based test: random sequences of ledger operations against a real database.

A hypothesis state machine drives payments, holds, posts (whole and partial), voids,
expiries, sales with co-pay, demurrage runs, limit changes, replays and the passing of
time, and keeps its own simple model of every balance. After every step: the database
agrees with the model, the audit finds no error, and refused or replayed requests
changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import Connection, delete, func, select

from exchange import tables
from exchange.accounts import (
    Limits,
    create_ledger,
    list_accounts,
    open_member_account,
    open_peer_account,
    set_limits,
)
from exchange.audit import Severity, audit
from exchange.demurrage import run_demurrage
from exchange.errors import (
    CreditLimitExceeded,
    LedgerError,
    TransferExpired,
    TransferNotPending,
    UpperLimitExceeded,
)
from exchange.issuance import Sale, pay_sale
from exchange.pending import expire_pending, post_pending, void_pending
from exchange.periods import Period
from exchange.transfers import TransferRequest, create_pending, create_transfer
from tests.exchange.conftest import CURRENCY, T0, quiet_settings
from tests.exchange.machines import Runner, run_machine
from tests.exchange.snapshots import ledger_snapshot

DAY_US = 86_400 * 1_000_000
HOUR_US = 3_600 * 1_000_000
MEMBERS = ("m0", "m1", "m2")
PEER = "peer:p.example"
ACCOUNTS = (*MEMBERS, "issuance", PEER)


def half_even(num: int, den: int) -> int:
    q, r = divmod(num, den)
    return q + (1 if 2 * r > den or (2 * r == den and q % 2) else 0)


@dataclass
class ModelAccount:
    member: bool
    credit_limit: int | None
    upper_limit: int | None = None
    posted: int = 0
    out_held: int = 0
    in_held: int = 0
    settled_to: int = 0
    allowance: int = 0

    @property
    def available(self) -> int:
        return self.posted - self.out_held


@dataclass
class Model:
    """The ledger as the test understands it, independently of the implementation."""

    rate_bps: int
    free: int
    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    holds: dict[str, tuple[str, str, int, int]] = field(default_factory=dict)

    def settle(self, name: str, now: int) -> None:
        account = self.accounts[name]
        current = now - now % DAY_US
        if not account.member or self.rate_bps == 0 or account.settled_to >= current:
            return
        start = account.settled_to
        while start < current:
            excess = account.available - self.free
            fee = half_even(excess * self.rate_bps, 10_000) if excess > 0 else 0
            if fee == 0:
                break
            account.posted -= fee
            self.accounts["demurrage"].posted += fee
            start += DAY_US
        account.settled_to = current

    def headroom(self, debit: str, credit: str) -> int:
        """The largest amount the limits of both accounts allow now."""
        d, c = self.accounts[debit], self.accounts[credit]
        room = 10**9
        if d.credit_limit is not None:
            room = min(room, d.available + d.credit_limit)
        if c.upper_limit is not None:
            room = min(room, c.upper_limit - c.posted - c.in_held)
        return room

    def refusal(self, debit: str, credit: str, amount: int) -> type[LedgerError] | None:
        d, c = self.accounts[debit], self.accounts[credit]
        if d.credit_limit is not None and d.available - amount < -d.credit_limit:
            return CreditLimitExceeded
        if c.upper_limit is not None and c.posted + c.in_held + amount > c.upper_limit:
            return UpperLimitExceeded
        return None


def _fingerprint(conn: Connection) -> tuple[object, ...]:
    """Enough to tell that nothing was written: transfers are append-only, and every
    booking changes the account rows (sequence numbers, hashes)."""
    transfers = conn.execute(select(func.count(), func.max(tables.transfers.c.ordinal)))
    accounts = conn.execute(select(tables.accounts).order_by(tables.accounts.c.id))
    holds = conn.execute(select(func.count()).select_from(tables.holds))
    return tuple(transfers.one()), tuple(map(tuple, accounts)), holds.scalar()


def _reset(conn: Connection) -> None:
    for table in reversed(tables.metadata.sorted_tables):
        conn.execute(delete(table))


class LedgerMachine(RuleBasedStateMachine):
    runner: Runner

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.count = 0
        self.accepted: list[tuple[object, tuple[object, ...]]] = []
        self.model: Model | None = None

    def _id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    @initialize(rate_bps=st.sampled_from([0, 30, 500]), free=st.sampled_from([0, 5_000]))
    def start(self, rate_bps, free):
        """Every run starts here: a fresh ledger with daily demurrage (maybe off)."""
        self.runner.write(_reset)
        config = quiet_settings(
            demurrage_rate_bps=rate_bps,
            demurrage_period=Period.DAY,
            demurrage_free_threshold_minor=free,
            issuance_reputation_threshold=Decimal(3),
        )
        self.runner.write(create_ledger, CURRENCY, self.now, config)
        model = Model(rate_bps, free)
        start = self.now - self.now % DAY_US
        model.accounts["issuance"] = ModelAccount(False, None, settled_to=start)
        for system in ("demurrage", "fees"):
            model.accounts[system] = ModelAccount(False, 0, settled_to=start)
        model.accounts["rounding"] = ModelAccount(False, None, settled_to=start)
        for name in MEMBERS:
            self.runner.write(open_member_account, name, self.now)
            model.accounts[name] = ModelAccount(True, 10_000, settled_to=start, allowance=10_000)
        self.runner.write(open_peer_account, "p.example", self.now, Limits(20_000, 20_000))
        model.accounts[PEER] = ModelAccount(False, 20_000, 20_000, settled_to=start)
        self.model = model

    def _expect(self, fn, args, kwargs, refusal, apply) -> object:
        """Run a write; it must fail with ``refusal`` (changing nothing) or succeed."""
        before = self.runner.read(_fingerprint)
        try:
            result = self.runner.write(fn, *args, **kwargs)
        except LedgerError as error:
            assert refusal is not None and isinstance(error, refusal), (error, refusal)
            assert self.runner.read(_fingerprint) == before
            return None
        assert refusal is None, f"expected {refusal}"
        apply()
        self.accepted.append((fn, args))
        return result

    @rule(
        debit=st.sampled_from(ACCOUNTS),
        credit=st.sampled_from(ACCOUNTS),
        amount=st.integers(1, 7_000),
        edge=st.sampled_from([None, None, -1, 0, 1]),
        hold_hours=st.none() | st.integers(1, 200),
    )
    def transfer(self, debit, credit, amount, edge, hold_hours):
        """A payment, or a hold that expires in a few hours or days; often of exactly the
        headroom left (give or take one minor unit), to probe the limits at their edge."""
        model = self.model
        assert model is not None
        if debit == credit:
            return
        model_copy = _copy(model)
        model_copy.settle(debit, self.now)
        model_copy.settle(credit, self.now)
        if edge is not None:
            amount = max(1, min(model_copy.headroom(debit, credit), 10**9) + edge)
        refusal = model_copy.refusal(debit, credit, amount)
        request = TransferRequest(self._id("t"), debit, credit, amount, "KRZ")

        def apply() -> None:
            self.model = model_copy
            d, c = model_copy.accounts[debit], model_copy.accounts[credit]
            if hold_hours is None:
                d.posted -= amount
                c.posted += amount
            else:
                d.out_held += amount
                c.in_held += amount
                model_copy.holds[request.transfer_id] = (debit, credit, amount, expires)

        if hold_hours is None:
            self._expect(create_transfer, (request, self.now), {}, refusal, apply)
        else:
            expires = self.now + hold_hours * HOUR_US
            self._expect(create_pending, (request, expires, self.now), {}, refusal, apply)

    @rule(
        data=st.data(),
        share=st.sampled_from([None, 1, 2, 3]),
        void=st.booleans(),
        open_one=st.sampled_from([True, True, True, False]),
    )
    def resolve(self, data, share, void, open_one):
        """Post (all or a share) or void a hold: mostly an open one, sometimes any."""
        model = self.model
        assert model is not None
        pendings = [args[0].transfer_id for fn, args in self.accepted if fn is create_pending]
        candidates = sorted(model.holds) if open_one and model.holds else pendings
        if not candidates:
            return
        pending_id = data.draw(st.sampled_from(candidates))
        hold = model.holds.get(pending_id)
        model_copy = _copy(model)
        if hold is None:
            refusal: type[LedgerError] | None = TransferNotPending
        elif self.now >= hold[3]:
            refusal = TransferExpired
        else:
            refusal = None
        amount = None if share is None or hold is None else max(1, hold[2] * share // 4)

        def apply() -> None:
            self.model = model_copy
            debit, credit, held, _ = model_copy.holds.pop(pending_id)
            model_copy.settle(debit, self.now)
            model_copy.settle(credit, self.now)
            d, c = model_copy.accounts[debit], model_copy.accounts[credit]
            d.out_held -= held
            c.in_held -= held
            if not void:
                moved = held if amount is None else amount
                d.posted -= moved
                c.posted += moved

        if void:
            self._expect(void_pending, (self._id("v"), pending_id, self.now), {}, refusal, apply)
        else:
            kwargs = {"amount_minor": amount}
            self._expect(
                post_pending, (self._id("p"), pending_id, self.now), kwargs, refusal, apply
            )

    @rule(
        buyer=st.sampled_from(MEMBERS),
        seller=st.sampled_from(MEMBERS),
        price=st.integers(1, 8_000),
        reputation=st.sampled_from([2, 3, 5]),
    )
    def sale(self, buyer, seller, price, reputation):
        """A sale between members, co-paid from issuance for a trusted buyer."""
        model = self.model
        assert model is not None
        if buyer == seller:
            return
        model_copy = _copy(model)
        model_copy.settle(buyer, self.now)
        model_copy.settle(seller, self.now)
        s = model_copy.accounts[seller]
        copay = 0
        if reputation >= 3 and price >= 2:
            copay = min(half_even(price * 5_000, 10_000), s.allowance, price - 1)
        refusal = model_copy.refusal(buyer, seller, price - copay)
        refusal = refusal or model_copy.refusal("issuance", seller, price)

        def apply() -> None:
            self.model = model_copy
            model_copy.accounts[buyer].posted -= price - copay
            model_copy.accounts["issuance"].posted -= copay
            s.posted += price
            s.allowance -= copay

        sale = Sale(self._id("s"), buyer, seller, price, "KRZ")
        self._expect(pay_sale, (sale, reputation, self.now), {}, refusal, apply)

    @rule()
    def expire(self):
        """The worker releases every hold whose expiry has passed."""
        model = self.model
        assert model is not None
        due = sorted(i for i, hold in model.holds.items() if hold[3] <= self.now)
        for pending_id in due:
            debit, credit, _, _ = model.holds[pending_id]
            model.settle(debit, self.now)
            model.settle(credit, self.now)
        for pending_id in due:
            debit, credit, held, _ = model.holds.pop(pending_id)
            model.accounts[debit].out_held -= held
            model.accounts[credit].in_held -= held
        expired = self.runner.write(expire_pending, self.now)
        assert sorted(t.pending_id for t in expired) == due

    @rule()
    def demurrage(self):
        """The scheduled demurrage run settles every member."""
        assert self.model is not None
        for name in MEMBERS:
            self.model.settle(name, self.now)
        self.runner.write(run_demurrage, self.now)

    @rule(
        account=st.sampled_from(MEMBERS),
        limit=st.sampled_from([0, 2_000, 10_000]),
        upper=st.sampled_from([None, 3_000, 30_000]),
    )
    def change_limits(self, account, limit, upper):
        """An operator changes a member's limits, perhaps below the current balance."""
        assert self.model is not None
        self.runner.write(set_limits, account, Limits(limit, upper), self.now)
        self.model.accounts[account].credit_limit = limit
        self.model.accounts[account].upper_limit = upper

    @rule(hours=st.sampled_from([1, 5, 23, 24, 49]))
    def advance(self, hours):
        """Time passes."""
        self.now += hours * HOUR_US

    @rule(data=st.data())
    def replay(self, data):
        """Sending an accepted request again returns the same result and changes nothing."""
        if not self.accepted:
            return
        fn, args = data.draw(st.sampled_from(self.accepted))
        if fn is not create_transfer and fn is not create_pending:
            return
        before = self.runner.read(ledger_snapshot)
        *rest, _ = args
        result = self.runner.write(fn, *rest, self.now)
        assert result.id == args[0].transfer_id
        assert self.runner.read(ledger_snapshot) == before

    @invariant()
    def ledger_matches_the_model_and_audits_clean(self):
        assert self.model is not None
        for account in self.runner.read(list_accounts):
            expected = self.model.accounts[account.id]
            actual = (
                account.balance_minor,
                account.debits_pending_minor,
                account.credits_pending_minor,
            )
            assert actual == (expected.posted, expected.out_held, expected.in_held), account.id
            if expected.member:
                assert account.allowance_remaining_minor == expected.allowance
        problems = self.runner.read(audit)
        assert all(p.severity is Severity.WARNING for p in problems), problems
        assert {p.code for p in problems} <= {"beyond_changed_limit"}


def _copy(model: Model) -> Model:
    return Model(
        model.rate_bps,
        model.free,
        {name: replace(account) for name, account in model.accounts.items()},
        dict(model.holds),
    )


def test_random_operation_sequences_keep_every_invariant(tmp_path: Path) -> None:
    """Random payments, holds, posts, voids, expiries, sales, demurrage runs and limit
    changes keep the database equal to the model and the audit clean, on either engine."""
    calls = run_machine(LedgerMachine, tmp_path, examples=40, steps=40)
    assert calls > 40  # every example ran steps against the database, checked as it went
