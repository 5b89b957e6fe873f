"""Clearing throughput: cross-community payments per second, direct and through a hop.

    .venv/bin/python bench/clearing.py [--payments 400] [--rounds 1]
    .venv/bin/python bench/clearing.py --database-url postgresql://postgres@127.0.0.1:5432/test

The three communities of ``fediverse-share demo`` (`fediverse_share.demo`): riverside
(RIV, 2 decimals; here with 16 paying members) peers with market (MKT, 3), which peers
with hilltop (HTP, 0). Riverside's members pay market's member directly (one link) and
hilltop's member through market (two links, each community applying its own rate).

Setup runs in this process as the demo does it: each community initialised, served on
127.0.0.1, peered by both operators, rates posted, background work drained with
`run_until_idle`. Then market and hilltop are stopped and started again as
``fediverse-share serve --no-worker`` subprocesses on the same ports and databases, so
each community has its own process as in production: the payers' community stays in
this one (uvicorn in the event loop; its members quote and pay through
`fediverse_share.clearing.payments`, as the exchange API does).

For each path and concurrency (1, and 16 payers at once), every payment is first quoted
(quotes/s), then paid (settlements/s). A settlement's time runs from confirmation
(``payments.pay`` called) to the commit of the payer's leg (``pay`` returned it
committed) and of the payee's leg (its ``updated_at_us``, read afterwards from the
payee's database). Every payment must end committed on every community on its path,
and a quote refused is counted with what the member would be told; the bench says so.
Also printed: the CPU each process on the path spent per payment, and how many cores
the rest of the (shared) machine kept busy meanwhile (PostgreSQL's server among them).
For SQLite and (when reachable) PostgreSQL, a fresh schema per community, dropped
afterwards. Prints figures; asserts no timing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import socket
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from common import (
    InstanceSpec,
    cpu_seconds,
    machine_cpu_seconds,
    postgres_schema,
    print_table,
    run_async,
    serve_instance,
)
from ledger import Figures, drive, on_both_engines
from sqlalchemy import Connection

from exchange import accounts, clearing
from exchange.accounts import Limits
from fediverse_share import demo
from fediverse_share.clearing import payments
from fediverse_share.clearing.payments import Quote
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.clock import now_us
from fediverse_share.database import Database
from fediverse_share.loopback import bind_loopback
from fediverse_share.members import Member
from fediverse_share.settings import Settings

PAYERS = tuple(f"payer{i:02d}" for i in range(16))
RIVERSIDE = dataclasses.replace(demo.RIVERSIDE, members=PAYERS)
MARKET = dataclasses.replace(demo.MARKET, members=("carol",))
HILLTOP = dataclasses.replace(demo.HILLTOP, members=("bob",))
#: Link limits high enough for every run (in each community's units).
LINK_LIMIT = "1000000000"


@dataclass(frozen=True, slots=True)
class Place:
    """A community as the bench sees it: where it lives, and its process once it has one."""

    community: demo.Community
    spec: InstanceSpec
    pid: int = 0  # 0: served in this process

    @property
    def settings(self) -> Settings:
        return self.community.settings


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a run (quoting, or paying): its figures and the CPU it cost each
    community's process, in milliseconds per payment."""

    figures: Figures
    cpu_ms: dict[str, float]
    #: Cores the rest of the machine kept busy meanwhile (it is shared).
    others_cores: float

    def cpu(self) -> str:
        each = ", ".join(f"{name} {ms:.1f}" for name, ms in self.cpu_ms.items())
        ours = f"{sum(self.cpu_ms.values()):.1f} ms CPU each ({each})"
        return f"{ours}; other processes {self.others_cores:.1f} cores"


@dataclass(frozen=True, slots=True)
class Run:
    quotes: Phase
    settlements: Phase
    payee: Figures
    not_committed: int
    refused: Counter[str]


# --- setup -----------------------------------------------------------------------------


def _write_config(settings: Settings) -> None:
    """What ``serve`` needs to be the same instance: the same domain, key and database."""
    lines = [
        f'domain = "{settings.domain}"',
        f'secret_key = "{settings.secret_key}"',
        f'database_url = "{settings.database_url}"',
        "allow_http = true",
        "allow_private_addresses = true",
    ]
    settings.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _raise_limits(conn: Connection) -> None:
    for payer in PAYERS:
        accounts.set_limits(conn, payer, Limits(10**12), now_us())


async def _initialised(
    stack: contextlib.AsyncExitStack, plan: demo.Plan, root: Path, url: str | None
) -> tuple[Settings, socket.socket, InstanceSpec]:
    """A community initialised as ``init`` does it, with the socket of its port."""
    schema = await stack.enter_async_context(postgres_schema(url, plan.username))
    sock = bind_loopback()
    stack.callback(sock.close)
    port = sock.getsockname()[1]
    database = {"database_url": url, "database_schema": schema} if url else {}
    settings = demo.loopback_settings(port, root / plan.username, **database)
    await demo.initialise(settings, plan)
    return settings, sock, InstanceSpec(plan.username, settings.data_dir, port, url, schema)


@contextlib.asynccontextmanager
async def communities(root: Path, url: str | None) -> AsyncIterator[dict[str, Place]]:
    """The payers' community served here, market and hilltop in their own processes."""
    async with contextlib.AsyncExitStack() as stack:
        plans = (RIVERSIDE, HILLTOP, MARKET)
        ready = [await _initialised(stack, plan, root, url) for plan in plans]
        a = await stack.enter_async_context(demo.running(ready[0][0], plans[0], ready[0][1]))
        async with contextlib.AsyncExitStack() as guests:
            b, c = [
                await guests.enter_async_context(demo.running(settings, plan, sock))
                for plan, (settings, sock, _) in zip(plans[1:], ready[1:], strict=True)
            ]
            await demo.connect(a, b, c, (LINK_LIMIT,) * 4)
            await a.runtime.db.write(_raise_limits)
        # Stopped here, started again as their own processes on the same ports.
        processes = stack.enter_context(contextlib.ExitStack())
        places = {a.name: Place(a, ready[0][2])}
        for community, (settings, _, spec) in zip((b, c), ready[1:], strict=True):
            _write_config(settings)
            process = await serve_instance(spec, processes)
            places[community.name] = Place(community, spec, process.pid)
        yield places


# --- payments --------------------------------------------------------------------------


def _leg_times(conn: Connection) -> dict[str, tuple[str, int]]:
    legs = clearing.list_legs(conn, limit=10**9)
    return {leg.transfer_id: (leg.state.value, leg.updated_at_us) for leg in legs}


async def _legs(place: Place) -> dict[str, tuple[str, int]]:
    db = Database(place.settings.database_url, schema=place.settings.database_schema)
    try:
        return await db.read(_leg_times)
    finally:
        await db.close()


async def _phase(
    on_path: list[Place], count: int, concurrency: int, step: Callable[[int], Awaitable[None]]
) -> Phase:
    """``drive`` the step, and the CPU time every process on the path spent meanwhile."""
    before = [time.process_time() if not p.pid else cpu_seconds(p.pid) for p in on_path]
    machine = machine_cpu_seconds()
    figures = await drive(count, concurrency, step)
    machine = machine_cpu_seconds() - machine
    after = [time.process_time() if not p.pid else cpu_seconds(p.pid) for p in on_path]
    spent = [end - start for start, end in zip(before, after, strict=True)]
    others = max(0.0, machine - sum(spent)) / figures.seconds
    each = {p.community.name: cpu * 1e3 / count for p, cpu in zip(on_path, spent, strict=True)}
    return Phase(figures, each, others)


async def settle(places: dict[str, Place], path: list[str], count: int, concurrency: int) -> Run:
    a, to = places[path[0]].community, places[path[-1]].community
    username, code = to.plan.members[0], to.plan.currency.code
    on_path = [places[name] for name in path]
    quotes: list[tuple[Member, Quote]] = []
    refused: Counter[str] = Counter()
    starts: dict[str, int] = {}
    states: Counter[str] = Counter()

    async def quote(i: int) -> None:
        member = a.members[PAYERS[i % len(PAYERS)]]
        try:
            got = await payments.quote(a.runtime, member, username, to.domain, "1", code)
        except Refusal as refusal:
            refused[refusal.message] += 1  # what a member would be told
            return
        quotes.append((member, got))

    async def pay(i: int) -> None:
        member, q = quotes[i]
        starts[q.transfer_id] = now_us()
        paid = await payments.pay(a.runtime, member, q.quote_id, f"bench-{q.quote_id}")
        states[paid.state] += 1

    quoted = await _phase(on_path, count, concurrency, quote)
    settled = await _phase(on_path, len(quotes), concurrency, pay)
    payee_legs = await _legs(places[path[-1]])
    waits = [
        (payee_legs[t][1] - started) / 1e6
        for t, started in starts.items()
        if payee_legs.get(t, ("", 0))[0] == "committed"
    ]
    payee = Figures(len(waits), settled.figures.seconds, tuple(waits))
    missing = len(quotes) - min(states["committed"], len(waits))
    return Run(quoted, settled, payee, missing, refused)


async def best_run(
    places: dict[str, Place], path: list[str], count: int, concurrency: int, rounds: int
) -> Run:
    runs = [await settle(places, path, count, concurrency) for _ in range(rounds)]
    return max(runs, key=lambda run: run.settlements.figures.rate)


def _rows(path: list[str], concurrency: int, run: Run) -> list[tuple[str, str, str]]:
    what = f"{' -> '.join(path)}, {concurrency} at once"
    settled, quoted = run.settlements, run.quotes
    rows = [
        (f"{what}: settlements", f"{settled.figures.rate:,.0f}/s", settled.cpu()),
        ("  confirmation to commit, payer", "", settled.figures.latency()),
        ("  confirmation to commit, payee", "", run.payee.latency()),
        (f"{what}: quotes", f"{quoted.figures.rate:,.0f}/s", quoted.cpu()),
    ]
    if run.not_committed:
        rows.append(("!! not committed on both sides", f"{run.not_committed}", ""))
    for reason, times in run.refused.items():
        rows.append(("!! quotes refused", f"{times}", reason))
    return rows


async def bench_engine(args: argparse.Namespace, name: str, url: str | None) -> None:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-clearing-") as tmp:
        async with communities(Path(tmp), url) as places:
            for path in (["riverside", "market"], ["riverside", "market", "hilltop"]):
                for concurrency in (1, 16):
                    count = args.payments if concurrency > 1 else args.payments // 4
                    run = await best_run(places, path, count, concurrency, args.rounds)
                    rows += _rows(path, concurrency, run)
    print_table(f"{name}: cross-community payments (aim: >= 100 direct/s, p99 < 500 ms)", rows)


async def run(args: argparse.Namespace) -> None:
    print(f"payments of 1 unit of the payee's currency; best of {args.rounds} rounds")
    await on_both_engines(args, bench_engine)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--payments", type=int, default=400, help="per run at concurrency 16")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--database-url", help="PostgreSQL (default: the test database)")
    parser.add_argument("--postgres-only", action="store_true")
    return parser.parse_args()


def main() -> None:
    run_async(lambda: run(parse_args()))


if __name__ == "__main__":
    main()
