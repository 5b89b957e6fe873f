"""Property-based test: random sequences of clearing legs on one community's ledger.

A hypothesis state machine prepares payer, hop and payee legs over two links (random
amounts, limits, fees and expiries), commits them with the right or a wrong preimage,
aborts them, lets time pass, runs the expiry worker, suspends and resumes links and
replays prepares. It keeps its own model of every balance, hold, leg state and link
residue, computed independently of `exchange.rates`. After every step: the ledger equals
the model, the audit finds no error (and warns of each leg in doubt, nothing else), no
account is beyond its limits, and refused or replayed requests changed nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import Connection, delete, func, select

from exchange import clearing_tables as ct
from exchange import tables
from exchange.accounts import Limits, create_ledger, list_accounts, open_member_account
from exchange.audit import Severity, audit
from exchange.clearing import (
    LegRequest,
    LegState,
    abort,
    commit,
    condition_of,
    leg_ref,
    list_legs,
    mark_expired,
    prepare,
)
from exchange.errors import (
    AmountOverQuote,
    CreditLimitExceeded,
    InvalidAmount,
    LedgerError,
    LegNotPrepared,
    LinkNotActive,
    NoRate,
    UpperLimitExceeded,
    WrongFulfilment,
)
from exchange.money import Currency
from exchange.peers import (
    LinkStatus,
    PeerRef,
    consent_locally,
    consent_remotely,
    list_links,
    set_status,
)
from exchange.pending import expire_pending
from exchange.rates import set_rate
from tests.exchange.conftest import CURRENCY, T0, quiet_settings
from tests.exchange.machines import Runner, run_machine

HOUR_US = 3_600 * 1_000_000
MEMBERS = ("alice", "bob")
LINKS = ("a.example", "b.example")
#: The peers' currencies, and the rate this community posts for each (KRZ per unit).
PEER_CURRENCY = {"a.example": Currency("AAA", "Aster", 0), "b.example": Currency("BBB", "Birch", 3)}
RATE = {"a.example": Fraction(1, 3), "b.example": Fraction(7, 4)}
#: Amounts in, in the peer's minor units: up to about 80.00 KRZ either way.
MAX_IN = {"a.example": 250, "b.example": 45_000}
LIMIT_CHOICES = st.sampled_from([None, 0, 3_000, 20_000, 50_000, 50_000])
#: The actions of a step, each as often as it should be drawn.
ACTIONS = (
    *["prepare_leg"] * 4,
    *["commit_leg"] * 3,
    *["pass_time"] * 2,
    "abort_leg",
    "wrong_fulfilment",
    "replay_prepare",
    "toggle_link",
)
PREPARED, COMMITTED, ABORTED = LegState.PREPARED, LegState.COMMITTED, LegState.ABORTED
EXPIRED, IN_DOUBT = LegState.EXPIRED, LegState.IN_DOUBT


def peer(domain: str) -> str:
    return f"peer:{domain}"


@dataclass
class ModelAccount:
    credit_limit: int | None
    upper_limit: int | None
    posted: int = 0
    out_held: int = 0
    in_held: int = 0

    @property
    def available(self) -> int:
        return self.posted - self.out_held


@dataclass
class ModelLeg:
    request: LegRequest
    state: LegState
    debit: str
    credit: str
    out: int
    fee: int
    residue: Fraction
    upstream: str | None


@dataclass
class Model:
    fee_bps: dict[str, int]
    max_amount: int
    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    #: Holds not yet released in the ledger: transfer id -> (debit, credit, out, fee, expiry).
    holds: dict[str, tuple[str, str, int, int, int]] = field(default_factory=dict)
    legs: dict[str, ModelLeg] = field(default_factory=dict)
    residue: dict[str, Fraction] = field(default_factory=lambda: dict.fromkeys(LINKS, Fraction(0)))
    active: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(LINKS, True))

    def copy(self) -> Model:
        return Model(
            dict(self.fee_bps),
            self.max_amount,
            {k: replace(v) for k, v in self.accounts.items()},
            dict(self.holds),
            {k: replace(v) for k, v in self.legs.items()},
            dict(self.residue),
            dict(self.active),
        )

    def refusal(self, debit: str, credit: str, amount: int) -> type[LedgerError] | None:
        d, c = self.accounts[debit], self.accounts[credit]
        if d.credit_limit is not None and d.available - amount < -d.credit_limit:
            return CreditLimitExceeded
        if c.upper_limit is not None and c.posted + c.in_held + amount > c.upper_limit:
            return UpperLimitExceeded
        return None

    def release(self, transfer_id: str, post: bool) -> None:
        debit, credit, out, fee, _ = self.holds.pop(transfer_id)
        d, c, f = self.accounts[debit], self.accounts[credit], self.accounts["fees"]
        d.out_held -= out + fee
        c.in_held -= out
        f.in_held -= fee
        if post:
            d.posted -= out + fee
            c.posted += out
            f.posted += fee

    def book_residue(self, domain: str, residue: Fraction) -> None:
        total = self.residue[domain] + residue
        whole = math.trunc(total)
        if whole:
            debit, credit = (peer(domain), "rounding") if whole > 0 else ("rounding", peer(domain))
            if self.refusal(debit, credit, abs(whole)) is None:
                self.accounts[debit].posted -= abs(whole)
                self.accounts[credit].posted += abs(whole)
                total -= whole
        self.residue[domain] = total


def conversion(amount_in: int, domain: str, fee_bps: int) -> tuple[int, int, int, Fraction]:
    """(gross, fee, out, residue) of ``amount_in`` arriving from ``domain``: the exact
    value in KRZ minor units rounded half-even, the fee on gross (half-even)."""
    exact = amount_in * RATE[domain] * 10**CURRENCY.scale / 10 ** PEER_CURRENCY[domain].scale
    gross = round(exact)
    fee = round(Fraction(gross * fee_bps, 10_000))
    return gross, fee, gross - fee, exact - gross


def _reset(conn: Connection) -> None:
    for table in reversed(tables.metadata.sorted_tables):
        conn.execute(delete(table))


def _fingerprint(conn: Connection) -> tuple[object, ...]:
    """Enough to tell that nothing was written: transfers are append-only, every booking
    changes the account rows (sequence numbers, hashes), and the legs and links as kept."""
    t, a, h = tables.transfers, tables.accounts, tables.holds
    transfers = conn.execute(select(func.count(), func.max(t.c.ordinal))).one()
    accounts = conn.execute(select(a).order_by(a.c.id)).all()
    holds = conn.execute(select(func.count()).select_from(h)).scalar()
    legs = conn.execute(select(ct.legs).order_by(ct.legs.c.transfer_id)).all()
    links = conn.execute(select(ct.links).order_by(ct.links.c.domain)).all()
    return tuple(transfers), *(tuple(map(tuple, rows)) for rows in (accounts, legs, links)), holds


def fulfilment_of(transfer_id: str) -> str:
    return hashlib.sha256(transfer_id.encode()).hexdigest()


class ClearingMachine(RuleBasedStateMachine):
    runner: Runner

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.count = 0
        self.model: Model | None = None
        #: Whether anything was written since the invariants were last checked (a step
        #: that was refused or replayed is proven to have changed nothing instead).
        self.dirty = True

    @initialize(
        fee_a=st.sampled_from([0, 30, 250]),
        fee_b=st.sampled_from([0, 100, 9_999]),
        max_amount=st.sampled_from([3_000, 10**6, 10**6]),
        peer_limits=st.lists(st.tuples(LIMIT_CHOICES, LIMIT_CHOICES), min_size=2, max_size=2),
        member_limits=st.lists(
            st.tuples(st.sampled_from([0, 2_000, 10_000, 50_000]), st.sampled_from([None, 4_000])),
            min_size=2,
            max_size=2,
        ),
    )
    def start(self, fee_a, fee_b, max_amount, peer_limits, member_limits):
        """A fresh KRZ ledger, two members and two active links with random limits."""
        self.runner.write(_reset)
        self.runner.write(create_ledger, CURRENCY, self.now, quiet_settings())
        model = Model({"a.example": fee_a, "b.example": fee_b}, max_amount)
        model.accounts["issuance"] = ModelAccount(None, None)
        model.accounts["demurrage"] = ModelAccount(0, None)
        model.accounts["fees"] = ModelAccount(0, None)
        model.accounts["rounding"] = ModelAccount(None, None)
        for name, (credit, upper) in zip(MEMBERS, member_limits, strict=True):
            self.runner.write(open_member_account, name, self.now, Limits(credit, upper))
            model.accounts[name] = ModelAccount(credit, upper)
        for domain, (credit, upper) in zip(LINKS, peer_limits, strict=True):
            ref = PeerRef(
                domain, f"https://{domain}/a", f"https://{domain}/i", PEER_CURRENCY[domain]
            )
            self.runner.write(consent_locally, ref, Limits(credit, upper), self.now)
            self.runner.write(consent_remotely, ref, self.now)
            self.runner.write(
                set_rate, PEER_CURRENCY[domain].code, RATE[domain],
                fee_bps=model.fee_bps[domain], max_amount_minor=max_amount,
                valid_from_us=self.now, valid_until_us=self.now + 10_000 * HOUR_US,
            )  # fmt: skip
            model.accounts[peer(domain)] = ModelAccount(credit, upper)
        self.model = model

    def _expect(self, fn, args, refusal, apply):
        """Run a write; it must fail with ``refusal`` (changing nothing) or succeed."""
        event(f"{fn.__name__}: {'ok' if refusal is None else refusal.__name__}")
        before = self.runner.read(_fingerprint)
        try:
            result = self.runner.write(fn, *args)
        except LedgerError as error:
            assert refusal is not None and isinstance(error, refusal), (error, refusal)
            assert self.runner.read(_fingerprint) == before
            return None
        assert refusal is None, f"expected {refusal.__name__}"
        apply()
        self.dirty = True
        return result

    def prepare_leg(self, data):
        """Prepare a payer's leg (member -> peer), a payee's (peer -> member) or a hop's
        (peer -> other peer); the model predicts the refusal, if any."""
        kind = data.draw(st.sampled_from(["payer", "payee", "hop"]), label="kind")
        side = data.draw(st.sampled_from(LINKS), label="link")
        member = data.draw(st.sampled_from(MEMBERS), label="member")
        hours = data.draw(st.integers(1, 12), label="hours")
        offset = data.draw(st.sampled_from([0, 0, -1, 1]), label="deliver offset")
        cite = data.draw(st.sampled_from([None, None, None, "own", "own", "other"]), label="cite")
        model = self.model
        assert model is not None
        self.count += 1
        tid = f"t{self.count}"
        other = LINKS[1 - LINKS.index(side)]
        expires = self.now + hours * HOUR_US
        fields = {
            "transfer_id": tid,
            "condition": condition_of(fulfilment_of(tid)),
            "expires_at_us": expires,
            "destination": f"acct:{member}@here",
            "deliver": json.dumps({"minor": 1}),
            "path": ("x", "y"),
            "rate_ids": {},
        }
        refusal: type[LedgerError] | None = None
        if kind == "payer":
            amount = data.draw(st.integers(1, 5_000), label="amount")
            request = LegRequest(
                **fields, amount_minor=amount, downstream=side, payer_account_id=member
            )
            debit, credit, gross, fee, out, residue = member, peer(side), amount, 0, amount, 0
            if not model.active[side]:
                refusal = LinkNotActive
        else:
            amount = data.draw(st.integers(1, MAX_IN[side]), label="amount in")
            gross, fee, out, residue = conversion(amount, side, model.fee_bps[side])
            cited = {"own": side, "other": other}.get(cite or "")
            rate_id = None if cited is None else f"{PEER_CURRENCY[cited].code}-1"
            extra: dict = {"upstream": side, "rate_id": rate_id}
            if kind == "payee":
                deliver = max(1, out + offset)
                extra |= {"payee_account_id": member, "deliver_minor": deliver}
                debit, credit = peer(side), member
            else:
                extra["downstream"] = other
                debit, credit = peer(side), peer(other)
            request = LegRequest(**fields, amount_minor=amount, **extra)
            if not model.active[side] or (kind == "hop" and not model.active[other]):
                refusal = LinkNotActive
            elif cite == "other":
                refusal = NoRate
            elif gross > model.max_amount:
                refusal = AmountOverQuote
            elif out <= 0 or (kind == "payee" and out < deliver):
                refusal = InvalidAmount
        copy = model.copy()
        if refusal is None:
            refusal = copy.refusal(debit, credit, out)
            if refusal is None:
                copy.accounts[debit].out_held += out
                copy.accounts[credit].in_held += out
                if fee:
                    refusal = copy.refusal(debit, "fees", fee)
                    copy.accounts[debit].out_held += fee
                    copy.accounts["fees"].in_held += fee

        def apply() -> None:
            copy.holds[tid] = (debit, credit, out, fee, expires)
            upstream = None if kind == "payer" else side
            copy.legs[tid] = ModelLeg(request, PREPARED, debit, credit, out, fee, residue, upstream)
            self.model = copy

        leg = self._expect(prepare, (request, self.now), refusal, apply)
        if leg is not None:
            assert (leg.gross_minor, leg.fee_minor, leg.out_minor) == (gross, fee, out)
            assert leg.residue == residue

    def has_legs(self) -> bool:
        return self.model is not None and bool(self.model.legs)

    def _pick(self, data) -> str:
        """A leg: mostly a prepared one, sometimes any (to probe the other states)."""
        assert self.model is not None
        prepared = sorted(t for t, leg in self.model.legs.items() if leg.state is PREPARED)
        if prepared and data.draw(st.sampled_from([True, True, True, False]), label="open"):
            return data.draw(st.sampled_from(prepared), label="leg")
        return data.draw(st.sampled_from(sorted(self.model.legs)), label="leg")

    def commit_leg(self, data):
        """The right preimage arrives: prepared legs post (or are in doubt past their
        expiry), expired ones are in doubt, aborted ones refuse, others stay as they are."""
        if not self.has_legs():
            return
        tid = self._pick(data)
        model = self.model
        assert model is not None
        copy = model.copy()
        leg = copy.legs[tid]
        refusal = LegNotPrepared if leg.state is ABORTED else None

        def apply() -> None:
            if leg.state is PREPARED and self.now < leg.request.expires_at_us:
                copy.release(tid, post=True)
                if leg.upstream is not None:
                    copy.book_residue(leg.upstream, leg.residue)
                leg.state = COMMITTED
            elif leg.state in (PREPARED, EXPIRED):
                leg.state = IN_DOUBT
            self.model = copy

        if leg.state in (COMMITTED, IN_DOUBT):
            before = self.runner.read(_fingerprint)
            stored = self.runner.write(commit, tid, fulfilment_of(tid), self.now)
            assert stored.state is leg.state
            assert self.runner.read(_fingerprint) == before
            return
        self._expect(commit, (tid, fulfilment_of(tid), self.now), refusal, apply)

    def wrong_fulfilment(self, data):
        """Another secret never moves a leg."""
        if not self.has_legs():
            return
        tid = self._pick(data)
        wrong = fulfilment_of(tid + "?")
        self._expect(commit, (tid, wrong, self.now), WrongFulfilment, lambda: None)

    def abort_leg(self, data):
        """Abort releases a prepared leg's holds (or marks it expired past its expiry);
        aborting again changes nothing; a committed or in-doubt leg refuses."""
        if not self.has_legs():
            return
        tid = self._pick(data)
        model = self.model
        assert model is not None
        copy = model.copy()
        leg = copy.legs[tid]
        refusal = LegNotPrepared if leg.state in (COMMITTED, IN_DOUBT) else None

        def apply() -> None:
            if leg.state is PREPARED and self.now < leg.request.expires_at_us:
                copy.release(tid, post=False)
                leg.state = ABORTED
            elif leg.state is PREPARED:
                leg.state = EXPIRED
            self.model = copy

        self._expect(abort, (tid, "gave_up", self.now), refusal, apply)

    def pass_time(self, data):
        """Time passes; perhaps the worker then releases every hold past its expiry and
        marks such legs expired."""
        self.now += data.draw(st.sampled_from([0, 1, 3, 8]), label="hours") * HOUR_US
        if not data.draw(st.booleans(), label="work"):
            return
        self.dirty = True
        model = self.model
        assert model is not None
        due = sorted(tid for tid, hold in model.holds.items() if hold[4] <= self.now)
        for tid in due:
            model.release(tid, post=False)
        released = []
        while batch := self.runner.write(expire_pending, self.now):
            released += batch
        assert {t.pending_id.rsplit(":", 1)[0] for t in released} == {leg_ref(t) for t in due}
        for leg in self.runner.read(list_legs, states=(PREPARED,)):
            self.runner.write(mark_expired, leg.transfer_id, self.now)
        for leg in model.legs.values():
            if leg.state is PREPARED and self.now >= leg.request.expires_at_us:
                leg.state = EXPIRED

    def toggle_link(self, data):
        """The operator suspends a link, or resumes the one suspended."""
        assert self.model is not None
        suspended = [domain for domain in LINKS if not self.model.active[domain]]
        side = suspended[0] if suspended else data.draw(st.sampled_from(LINKS), label="link")
        active = not self.model.active[side]
        status = LinkStatus.ACTIVE if active else LinkStatus.SUSPENDED
        self.runner.write(set_status, side, status, self.now)
        self.model.active[side] = active
        self.dirty = True

    def replay_prepare(self, data):
        """Sending a leg's prepare again returns the stored leg and changes nothing, in
        whatever state the leg and its links are now."""
        if not self.has_legs():
            return
        tid = self._pick(data)
        assert self.model is not None
        before = self.runner.read(_fingerprint)
        leg = self.runner.write(prepare, self.model.legs[tid].request, self.now)
        assert (leg.transfer_id, leg.state) == (tid, self.model.legs[tid].state)
        assert self.runner.read(_fingerprint) == before

    @rule(data=st.data(), action=st.sampled_from(ACTIONS))
    def step(self, data, action):
        """One action, drawn with fixed weights (so that every run mixes them all)."""
        event(action)
        getattr(self, action)(data)

    @invariant()
    def ledger_matches_the_model_audits_clean_and_keeps_its_limits(self):
        model = self.model
        assert model is not None
        if not self.dirty:
            return
        self.dirty = False
        for account in self.runner.read(list_accounts):
            expected = model.accounts[account.id]
            actual = (
                account.balance_minor,
                account.debits_pending_minor,
                account.credits_pending_minor,
            )
            assert actual == (expected.posted, expected.out_held, expected.in_held), account.id
            lower, upper = account.limits.credit_limit_minor, account.limits.upper_limit_minor
            assert lower is None or account.available_minor >= -lower, account.id
            assert upper is None or account.balance_minor + account.credits_pending_minor <= upper
        problems = self.runner.read(audit)
        assert [p for p in problems if p.severity is Severity.ERROR] == []
        in_doubt = sum(leg.state is IN_DOUBT for leg in model.legs.values())
        assert [p.code for p in problems] == ["clearing_leg_in_doubt"] * in_doubt
        legs = {leg.transfer_id: leg.state for leg in self.runner.read(list_legs)}
        assert legs == {tid: leg.state for tid, leg in model.legs.items()}
        residues = {link.domain: link.residue for link in self.runner.read(list_links)}
        assert residues == model.residue


def test_random_clearing_sequences_keep_every_invariant(tmp_path: Path) -> None:
    """Random prepares, commits, wrong preimages, aborts, expiries, link suspensions and
    replays keep the ledger equal to the model, within its limits and the audit clean (but
    for a warning about each leg in doubt)."""
    calls = run_machine(ClearingMachine, tmp_path, examples=20, steps=30)
    assert calls > 20  # every example ran steps against the database, checked as it went
