"""The one-statement payment (`exchange.one_statement`) books exactly what the ordinary
path books, refuses what it refuses, and keeps limits, idempotency and chains.

On SQLite `post_transfer` is the ordinary path, so there these tests check the entry
point; on PostgreSQL they compare the statement with `create_transfer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Connection, delete, select, text, update

from exchange import tables
from exchange.accounts import (
    Limits,
    close_account,
    create_ledger,
    get_account,
    open_member_account,
    set_limits,
)
from exchange.audit import Severity, audit
from exchange.errors import CreditLimitExceeded, LedgerError, UpperLimitExceeded
from exchange.one_statement import post_transfer, try_in_one_statement
from exchange.pending import void_pending
from exchange.periods import Period
from exchange.transfers import (
    Transfer,
    TransferKind,
    TransferRequest,
    create_pending,
    create_transfer,
)
from fediverse_share.database import Database
from fediverse_share.migrations import upgrade
from tests.exchange.conftest import CURRENCY, T0, quiet_settings
from tests.exchange.snapshots import ledger_snapshot
from tests.support.databases import fresh_database_url

POSTGRES_URL = os.environ.get("FEDIVERSE_SHARE_TEST_DATABASE_URL", "")
DAY_US = 86_400 * 1_000_000
MEMBERS = ("m0", "m1", "m2", "idle")
ACCOUNTS = (*MEMBERS, "issuance", "demurrage", "nobody")


def _outcome(call: Any) -> Any:
    """A result comparable across the two databases: a transfer without its ordinal
    (sequences advance differently on a replay), or the error's type and message."""
    try:
        result = call()
    except LedgerError as error:
        return type(error), error.message
    return dataclasses.replace(result, ordinal=0) if isinstance(result, Transfer) else result


def _comparable(snapshot: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """A ledger snapshot without transfer ordinals (the rows stay in their order)."""
    transfers = [row[1:] for row in snapshot[tables.transfers.name]]
    return {**snapshot, tables.transfers.name: transfers}


def _reset(conn: Connection) -> None:
    for table in reversed(tables.metadata.sorted_tables):
        conn.execute(delete(table))


class Twins:
    """Two databases on one event loop: the ordinary path's and the statement's."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ordinary: Database, fast: Database):
        self.loop, self.ordinary, self.fast = loop, ordinary, fast
        self.payments = 0

    def both(self, fn: Any, *args: Any) -> Any:
        """``fn`` written on both databases (not a payment); both must answer alike."""
        ordinary, fast = (
            _outcome(lambda db=db: self.loop.run_until_complete(db.write(fn, *args)))
            for db in (self.ordinary, self.fast)
        )
        assert ordinary == fast, (fn, ordinary, fast)
        return ordinary

    def read_both(self, fn: Any) -> tuple[Any, Any]:
        run = self.loop.run_until_complete
        return run(self.ordinary.read(fn)), run(self.fast.read(fn))

    def pay(self, request: TransferRequest, now_us: int) -> tuple[Any, Any]:
        self.payments += 1
        run = self.loop.run_until_complete
        ordinary = _outcome(lambda: run(self.ordinary.write(create_transfer, request, now_us)))
        fast = _outcome(lambda: run(post_transfer(self.fast, request, now_us)))
        return ordinary, fast


class TwinLedgers(RuleBasedStateMachine):
    """The same random operations on two ledgers; payments through the ordinary path on
    one and `post_transfer` on the other. Both must answer alike and stay equal."""

    twins: Twins

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.count = 0
        self.sent: list[TransferRequest] = []
        self.holds: list[str] = []

    @initialize(
        rate_bps=st.sampled_from([0, 0, 300]),
        period=st.sampled_from(list(Period)),
        upper=st.sampled_from([None, 15_000]),
    )
    def start(self, rate_bps, period, upper):
        """A fresh ledger on both sides, demurrage on or off, upper limits or none."""
        self.twins.both(_reset)
        config = quiet_settings(
            demurrage_rate_bps=rate_bps,
            demurrage_period=period,
            demurrage_free_threshold_minor=1_000,
            default_upper_limit_minor=upper,
        )
        self.twins.both(create_ledger, CURRENCY, self.now, config)
        for name in MEMBERS:
            self.twins.both(open_member_account, name, self.now)
        self.twins.both(close_account, "idle", self.now)

    def _new_id(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def _pay(self, request: TransferRequest) -> None:
        ordinary, fast = self.twins.pay(request, self.now)
        assert ordinary == fast, (request, ordinary, fast)
        self.sent.append(request)

    @rule(
        debit=st.sampled_from(ACCOUNTS),
        credit=st.sampled_from(ACCOUNTS),
        amount=st.integers(1, 12_000) | st.sampled_from([9_999, 10_000, 10_001, 15_001]),
        currency=st.sampled_from(["KRZ", "KRZ", "KRZ", "EUR"]),
        memo=st.sampled_from(["", "rent"]),
        reference=st.sampled_from([None, "trade-1"]),
    )
    def pay(self, debit, credit, amount, currency, memo, reference):
        """A payment: often fine, sometimes over a limit, unknown, closed or foreign."""
        if debit == credit:
            return
        kind = TransferKind.PAYMENT if reference is None else TransferKind.CORRECTION
        self._pay(
            TransferRequest(self._new_id(), debit, credit, amount, currency, kind, memo, reference)
        )

    @rule(
        debit=st.sampled_from(MEMBERS[:3]),
        credit=st.sampled_from(MEMBERS[:3]),
        side=st.sampled_from(["debit", "credit"]),
        edge=st.sampled_from([-1, 0, 1]),
    )
    def pay_at_the_edge(self, debit, credit, side, edge):
        """A payment of the room left under one side's limit (holds counted), give or
        take one minor unit."""
        if debit == credit:
            return
        run, db = self.twins.loop.run_until_complete, self.twins.ordinary
        if side == "debit":
            account = run(db.read(get_account, debit))
            limit = account.limits.credit_limit_minor
            room = None if limit is None else account.available_minor + limit
        else:
            account = run(db.read(get_account, credit))
            upper = account.limits.upper_limit_minor
            room = None if upper is None else upper - account.balance_minor
            room = None if room is None else room - account.credits_pending_minor
        if room is not None and room + edge > 0:
            self._pay(TransferRequest(self._new_id(), debit, credit, room + edge, "KRZ"))

    @rule(data=st.data(), change=st.sampled_from([None, None, "amount", "memo", "currency"]))
    def resend(self, data, change):
        """A request sent again, unchanged (a replay) or changed (a conflict)."""
        if not self.sent:
            return
        request = data.draw(st.sampled_from(self.sent))
        if change == "amount":
            request = dataclasses.replace(request, amount_minor=request.amount_minor + 1)
        elif change == "memo":
            request = dataclasses.replace(request, memo=request.memo + "!")
        elif change == "currency":
            request = dataclasses.replace(request, currency_code="EUR")
        self._pay(request)

    @rule(
        debit=st.sampled_from(MEMBERS[:3]),
        credit=st.sampled_from(MEMBERS[:3]),
        days=st.sampled_from([1, 90]),
    )
    def hold(self, debit, credit, days):
        """A hold, which counts against both accounts' limits until it is voided."""
        if debit != credit:
            request = TransferRequest(self._new_id(), debit, credit, 3_000, "KRZ")
            expires = self.now + days * DAY_US
            held = self.twins.both(create_pending, request, expires, self.now)
            if isinstance(held, Transfer):
                self.holds.append(request.transfer_id)

    @rule()
    def void(self):
        """The oldest hold is released (or found expired)."""
        if self.holds:
            self.twins.both(void_pending, self._new_id(), self.holds.pop(0), self.now)

    @rule(
        account=st.sampled_from(MEMBERS[:3]),
        limit=st.sampled_from([0, 5_000, 10_000]),
        upper=st.sampled_from([None, 2_000, 30_000]),
    )
    def change_limits(self, account, limit, upper):
        """An operator changes a member's limits, perhaps past the balance."""
        self.twins.both(set_limits, account, Limits(limit, upper), self.now)

    @rule(hours=st.sampled_from([1, 30, 24 * 31]))
    def advance(self, hours):
        """Time passes: demurrage may fall due (the statement then declines)."""
        self.now += hours * 3_600 * 1_000_000

    @invariant()
    def ledgers_are_equal(self):
        ordinary, fast = self.twins.read_both(ledger_snapshot)
        assert _comparable(ordinary) == _comparable(fast)

    def teardown(self):
        """At the end of each example, the audit (chains included) finds no error."""
        for problems in self.twins.read_both(audit):
            assert all(p.severity is Severity.WARNING for p in problems), problems


@contextlib.contextmanager
def _twin_databases(tmp_path: Path) -> Iterator[Twins]:
    """Two migrated databases on a new event loop (on PostgreSQL, two schemas)."""
    loop = asyncio.new_event_loop()
    contexts = [fresh_database_url(POSTGRES_URL, tmp_path, name) for name in ("a", "b")]
    try:
        dbs = []
        for context in contexts:
            url, schema = loop.run_until_complete(context.__aenter__())
            dbs.append(Database(url, schema=schema))
            loop.run_until_complete(upgrade(dbs[-1]))
        yield Twins(loop, *dbs)
        for db in dbs:
            loop.run_until_complete(db.close())
    finally:
        for context in reversed(contexts):
            loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()


def test_the_statement_and_the_ordinary_path_agree(tmp_path: Path) -> None:
    """Random payments, replays, conflicts, refusals, holds, limit changes and demurrage
    give the same answers, transfers, balances and chains on both paths."""
    with _twin_databases(tmp_path) as twins:
        examples = 12 if POSTGRES_URL else 6  # on SQLite both paths are the same code
        run_state_machine_as_test(
            type("Machine", (TwinLedgers,), {"twins": twins}),
            settings=settings(
                max_examples=examples,
                stateful_step_count=25,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
        assert twins.payments > examples  # the examples paid, and compared as they went


# Payments sent all at once, whose answers do not depend on the order they are booked
# in: amounts far below the limits, or far above; unknown, closed or foreign; replays.
_PAYMENT = st.one_of(
    st.tuples(st.just("fine"), st.sampled_from((*MEMBERS[:3], "m3", "m4", "m5")),
              st.sampled_from((*MEMBERS[:3], "m3", "m4", "m5")), st.integers(1, 100)),
    st.tuples(st.just("over"), st.sampled_from(MEMBERS[:3]), st.sampled_from(MEMBERS[:3]),
              st.just(50_000)),
    st.tuples(st.sampled_from(["nobody", "idle", "EUR", "replay", "conflict"]),
              st.sampled_from(MEMBERS[:3]), st.sampled_from(MEMBERS[:3]), st.just(5)),
)  # fmt: skip


def _requests(specs: list[tuple[str, str, str, int]]) -> list[TransferRequest]:
    requests = []
    for i, (case, debit, credit, amount) in enumerate(specs):
        request = TransferRequest(f"t{i}", debit, credit, amount, "KRZ")
        if case in ("nobody", "idle"):
            request = dataclasses.replace(request, credit_account_id=case)
        elif case == "EUR":
            request = dataclasses.replace(request, currency_code="EUR")
        elif case == "replay":
            request = _EARLIER
        elif case == "conflict":
            request = dataclasses.replace(_EARLIER, amount_minor=_EARLIER.amount_minor + 1)
        if request.debit_account_id != request.credit_account_id:
            requests.append(request)
    return requests * 2  # each sent twice at once: the second is a replay of the first


_EARLIER = TransferRequest("earlier", "m0", "m1", 250, "KRZ")


def _balances(conn: Connection) -> list[tuple[Any, ...]]:
    a = tables.accounts
    columns = (a.c.id, a.c.debits_posted_minor, a.c.credits_posted_minor, a.c.seq)
    return [tuple(row) for row in conn.execute(select(*columns).order_by(a.c.id))]


def _content(answer: Any) -> Any:
    """An answer without what depends on the order of booking (seq, balance after, hash)."""
    if not isinstance(answer, Transfer):
        return answer
    return (answer.id, answer.kind, answer.debit_account_id, answer.credit_account_id,
            answer.amount_minor, answer.memo, answer.created_at_us)  # fmt: skip


def _transactions(conn: Connection) -> int:
    """In how many transactions the transfers were written (PostgreSQL's ``xmin``)."""
    query = text("SELECT count(DISTINCT xmin::text) FROM ledger_transfers")
    return int(conn.execute(query).scalar_one())


async def _send_at_once(db: Database, requests: list[TransferRequest]) -> list[Any]:
    calls = (post_transfer(db, request, T0) for request in requests)
    return await asyncio.gather(*calls, return_exceptions=True)


def test_payments_sent_together_answer_as_one_by_one(tmp_path: Path) -> None:
    """Payments sent all at once (on PostgreSQL several to a statement) get the answers
    the ordinary path gives them one by one, and leave the same balances; the ledgers
    audit clean."""
    with _twin_databases(tmp_path) as twins:
        run = twins.loop.run_until_complete
        shared: list[int] = []

        @given(specs=st.lists(_PAYMENT, min_size=1, max_size=30))
        @settings(max_examples=10 if POSTGRES_URL else 3, deadline=None, database=None)
        def check(specs: list[tuple[str, str, str, int]]) -> None:
            twins.both(_reset)
            twins.both(create_ledger, CURRENCY, T0, quiet_settings())
            for name in (*MEMBERS, "m3", "m4", "m5"):
                twins.both(open_member_account, name, T0)
            twins.both(close_account, "idle", T0)
            twins.both(create_transfer, _EARLIER, T0)
            requests = _requests(specs)
            ordinary = [
                _content(_outcome(lambda r=r: run(twins.ordinary.write(create_transfer, r, T0))))
                for r in requests
            ]
            sent = run(_send_at_once(twins.fast, requests))
            fast = [
                (type(a), a.message) if isinstance(a, LedgerError) else _content(a) for a in sent
            ]
            assert fast == ordinary
            assert run(twins.ordinary.read(_balances)) == run(twins.fast.read(_balances))
            for problems in twins.read_both(audit):
                assert problems == []
            if POSTGRES_URL:
                booked = sum(isinstance(a, Transfer) for a in sent[: len(sent) // 2])
                shared.append(booked - run(twins.fast.read(_transactions)) + 1)

        check()
        assert not POSTGRES_URL or max(shared) > 0  # some statement booked several


async def test_a_plain_payment_is_one_statement_and_due_demurrage_declines(ledger):
    """On PostgreSQL the statement books a plain payment and declines one that would
    first settle demurrage (nothing written); post_transfer then books it as usual."""
    request = TransferRequest("one", "alice", "bob", 500, "KRZ")
    if ledger.dialect == "postgresql":
        booked = await try_in_one_statement(ledger, request, T0 + 1)
        assert booked is not None and booked.debit_balance_minor == -500
        assert await ledger.write(_switch_to_daily_demurrage) == 1
        later = TransferRequest("two", "bob", "alice", 100, "KRZ")
        before = await ledger.read(ledger_snapshot)
        assert await try_in_one_statement(ledger, later, T0 + 2 * DAY_US) is None
        assert await ledger.read(ledger_snapshot) == before
    again = await post_transfer(ledger, request, T0 + 1)
    assert again.id == "one" and again.amount_minor == 500
    assert (await ledger.read(get_account, "alice")).balance_minor == -500
    assert await ledger.read(audit) == []


def _switch_to_daily_demurrage(conn: Connection) -> int:
    statement = update(tables.settings).values(
        demurrage_rate_bps=100, demurrage_period=Period.DAY.value, demurrage_since_us=0
    )
    return conn.execute(statement).rowcount


async def test_parallel_payments_keep_the_limit_and_book_each_once(ledger):
    """Parallel payments from one account near its credit limit, replays of each and
    traffic the other way: exactly those that fit are booked, each once; refusals are
    typed; replays answer the booked transfer; the audit (chains included) is clean."""
    payees = [f"payee{i}" for i in range(8)]
    for name in payees:
        await ledger.write(open_member_account, name, T0)
    await post_transfer(ledger, TransferRequest("start", "alice", "bob", 9_000, "KRZ"), T0)
    requests = [TransferRequest(f"p{i:03d}", "alice", payees[i % 8], 7, "KRZ") for i in range(160)]
    back = [TransferRequest(f"b{i}", payees[i % 8], "carol", 1, "KRZ") for i in range(40)]
    calls = [post_transfer(ledger, r, T0 + 1) for r in requests + requests[:40] + back]
    results = await asyncio.gather(*calls, return_exceptions=True)
    booked = [r for r in results[:160] if not isinstance(r, BaseException)]
    refused = [r for r in results[:160] if isinstance(r, BaseException)]
    assert all(isinstance(e, CreditLimitExceeded) for e in refused), refused
    assert len(booked) == 1_000 // 7  # 10.00 of room, 0.07 each
    for first, again in zip(results[:40], results[160:200], strict=True):
        assert type(first) is type(again) if isinstance(first, BaseException) else first == again
    assert not [r for r in results[200:] if isinstance(r, BaseException)]
    alice = await ledger.read(get_account, "alice")
    assert alice.balance_minor == -9_000 - 7 * len(booked) >= -10_000
    assert await ledger.read(audit) == []


async def test_holds_count_against_both_limits(ledger):
    """Outgoing holds count against the payer's credit limit and incoming holds against
    the payee's upper limit, to the minor unit."""
    await ledger.write(set_limits, "bob", Limits(10_000, 5_000), T0)
    hold = TransferRequest("h", "alice", "bob", 3_000, "KRZ")
    await ledger.write(create_pending, hold, T0 + DAY_US, T0)
    over = TransferRequest("over", "alice", "carol", 7_001, "KRZ")
    before = await ledger.read(ledger_snapshot)
    with pytest.raises(CreditLimitExceeded):
        await post_transfer(ledger, over, T0 + 1)
    above = TransferRequest("above", "carol", "bob", 2_001, "KRZ")
    with pytest.raises(UpperLimitExceeded):
        await post_transfer(ledger, above, T0 + 1)
    assert await ledger.read(ledger_snapshot) == before
    await post_transfer(ledger, dataclasses.replace(over, amount_minor=7_000), T0 + 1)
    await post_transfer(ledger, dataclasses.replace(above, amount_minor=2_000), T0 + 1)
    assert (await ledger.read(get_account, "alice")).available_minor == -10_000
    assert await ledger.read(audit) == []


async def test_upper_limit_refusal_leaves_nothing(ledger):
    """A payment above the payee's upper limit is refused and writes nothing."""
    await ledger.write(set_limits, "bob", Limits(10_000, 1_000), T0)
    before = await ledger.read(ledger_snapshot)
    request = TransferRequest("up", "alice", "bob", 1_001, "KRZ")
    with pytest.raises(UpperLimitExceeded, match="'bob' would go above its upper limit"):
        await post_transfer(ledger, request, T0 + 1)
    assert await ledger.read(ledger_snapshot) == before
    exact = await post_transfer(ledger, dataclasses.replace(request, amount_minor=1_000), T0 + 1)
    assert exact.credit_balance_minor == 1_000


async def test_audit_finds_an_edited_transfer_booked_in_one_statement(ledger):
    """The chains the statement writes are the audit's: editing a booked row is found."""
    for i in range(5):
        await post_transfer(ledger, TransferRequest(f"c{i}", "alice", "bob", 10 + i, "KRZ"), T0)
    assert await ledger.read(audit) == []
    await ledger.write(_edit_memo, "c2")
    problems = await ledger.read(audit)
    assert {(p.code, p.transfer_id) for p in problems} == {("chain_broken", "c2")}


def _edit_memo(conn: Connection, transfer_id: str) -> None:
    t = tables.transfers
    conn.execute(update(t).where(t.c.id == transfer_id).values(memo="edited"))
