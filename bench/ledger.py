"""Ledger throughput: payments/s through the domain layer and the REST API, beside the raw
limit; audit time.

    .venv/bin/python bench/ledger.py [--payments 20000] [--rounds 2] [--audit-transfers 100000]
    .venv/bin/python bench/ledger.py --audit-transfers 1000000 --api-payments 0
    .venv/bin/python bench/ledger.py --database-url postgresql://postgres@127.0.0.1:5432/test

For SQLite and (when reachable) PostgreSQL, in this one run:

* **domain**: `exchange.one_statement.post_transfer`, the entry point for a payment that
  is a whole transaction: on SQLite `exchange.transfers.create_transfer` through
  `Database.write` (group commit), on PostgreSQL one statement in its own transaction
  for the payments sent at about the same time (`Database.fetch_batched`); each payment
  checked against both accounts' limits and idempotent by its id, between random pairs
  of 1,000 members; at concurrency 1 and 32, with p50/p99 latency;
* **REST API**: ``POST /api/exchange/v1/payments`` to one ``fediverse-share serve
  --no-worker`` process on loopback (a fresh SQLite data directory, or a fresh schema in
  PostgreSQL), each with its member's OAuth bearer token (an app registered and tokens
  issued by the functions the OAuth endpoints call) and its own ``Idempotency-Key``,
  between random pairs of ``--api-members`` members (200: each member's RSA key pair
  takes ~0.2 s to make); sent by the lean keep-alive client of `common.run_load`, at
  concurrency 1 and 32, with p50/p99 latency and the server's CPU per payment. Every
  answer must be 201 and the ledger must hold exactly the payments answered;
* **raw**: the same transfer at its barest: plain ``sqlite3`` (two entry rows, two
  balance updates with the limit check, one commit per transfer), and on PostgreSQL one
  asyncpg statement (a CTE doing the same) at concurrency 1 and 32;
* **audit**: `exchange.audit.audit` over N valid transfers (hash chains included),
  bulk-loaded beforehand, with the number of problems it found (0 expected).

Each measurement runs ``--rounds`` times and the best round is kept (the machine is
shared); the domain and raw runs take turns, so that their ratio compares runs made
under about the same load. At the end of every domain run the ledger must hold exactly
the payments sent; the bench says so if not. Prints figures; asserts no timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson
from common import (
    InstanceSpec,
    asyncpg_dsn,
    free_port,
    init_instance,
    postgres_schema,
    print_table,
    render_request,
    run_async,
    run_load,
    serve_instance,
)
from ledger_load import load_transfers
from sqlalchemy import Connection, func, select

from exchange import tables
from exchange.accounts import Limits, create_ledger, open_member_account
from exchange.audit import audit
from exchange.money import Currency
from exchange.one_statement import post_transfer
from exchange.transfers import TransferRequest
from fediverse_share import members, standalone
from fediverse_share.database import Database
from fediverse_share.migrations import upgrade
from fediverse_share.oauth import tokens
from fediverse_share.oauth.apps import register_app
from fediverse_share.settings import Settings

T0 = 1_700_000_000_000_000
CURRENCY = Currency("BNC", "Bench", 2)
MEMBERS = 1_000


@dataclass(frozen=True, slots=True)
class Figures:
    count: int
    seconds: float
    latencies: tuple[float, ...]
    #: The serving process's CPU per payment, when a server was measured.
    server_cpu_us: float | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def latency(self) -> str:
        ordered = sorted(self.latencies) or [float("nan")]
        p50 = statistics.median(ordered) * 1e3
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3
        cpu = "" if self.server_cpu_us is None else f", {self.server_cpu_us:,.0f} µs server CPU"
        return f"p50 {p50:6.2f} ms, p99 {p99:6.2f} ms{cpu}"


async def drive(count: int, concurrency: int, pay) -> Figures:
    """Call ``pay(i)`` for i < count from ``concurrency`` tasks; time each call."""
    indices = iter(range(count))
    latencies: list[float] = []

    async def worker() -> None:
        clock = time.perf_counter
        for i in indices:
            started = clock()
            await pay(i)
            latencies.append(clock() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figures(count, time.perf_counter() - started, tuple(latencies))


# --- through the domain layer ---------------------------------------------------------


def _open_members(conn: Connection) -> None:
    for i in range(MEMBERS):
        open_member_account(conn, f"m{i:04d}", T0, Limits(10**12))


def _count_transfers(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tables.transfers)).scalar_one())


async def domain_run(url: str, schema: str | None, count: int, concurrency: int) -> Figures:
    db = Database(url, schema=schema)
    try:
        await upgrade(db)
        await db.write(create_ledger, CURRENCY, T0)
        await db.exclusive(_open_members)
        pairs = random.Random(concurrency)
        ends = [[f"m{x:04d}" for x in pairs.sample(range(MEMBERS), 2)] for _ in range(count)]
        requests = [TransferRequest(f"p{i}", *ends[i], 1, "BNC") for i in range(count)]
        figures = await drive(count, concurrency, lambda i: post_transfer(db, requests[i], T0 + 1))
        booked = await db.read(_count_transfers)
        if booked != count:
            print(f"  !! {booked} transfers booked for {count} payments sent")
        return figures
    finally:
        await db.close()


# --- through the REST API -------------------------------------------------------------

API_SCOPES = ("read", "write")
PAYMENTS_PATH = "/api/exchange/v1/payments"


@dataclass(frozen=True, slots=True)
class ApiServer:
    """The served instance: where it listens, its process, its members' bearer tokens."""

    spec: InstanceSpec
    pid: int
    tokens: tuple[str, ...]  # member i's token, for m0000, m0001, …


async def _sign_up(settings: Settings, count: int) -> tuple[str, ...]:
    """``count`` members, and a token each from one registered app."""
    async with standalone.runtime(settings) as runtime:
        app = await register_app(runtime, "bench", ["urn:ietf:wg:oauth:2.0:oob"], API_SCOPES)
        joined = await asyncio.gather(
            *(members.add_member(runtime, f"m{i:04d}", None) for i in range(count))
        )
        issued = [await tokens.issue_token(runtime, app.app, m.user_id, API_SCOPES) for m in joined]
    return tuple(token.access_token for token in issued)


async def start_api_server(
    tmp: Path, stack: contextlib.ExitStack, url: str | None, schema: str | None, count: int
) -> ApiServer:
    spec = InstanceSpec("ledger", tmp / "ledger", free_port(), url, schema)
    init_instance(spec)
    settings = Settings.load(data_dir=spec.data_dir, database_schema=schema, run_worker=False)
    member_tokens = await _sign_up(settings, count)
    process = await serve_instance(spec, stack)
    return ApiServer(spec, process.pid, member_tokens)


def payment_requests(server: ApiServer, count: int, run_id: str) -> list[bytes]:
    """``count`` rendered payments of 0.01 between random pairs, each with its own key."""
    pairs = random.Random(run_id)
    host = server.spec.domain
    rendered = []
    for i in range(count):
        payer, payee = pairs.sample(range(len(server.tokens)), 2)
        body = {"to": f"acct:m{payee:04d}@{host}", "amount": "0.01", "currency": "BNC"}
        headers = {
            "Host": host,
            "Authorization": f"Bearer {server.tokens[payer]}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"{run_id}-{i}",
        }
        rendered.append(render_request("POST", PAYMENTS_PATH, headers, orjson.dumps(body)))
    return rendered


async def _booked(spec: InstanceSpec) -> int:
    db = Database(spec.database_url or f"sqlite:///{spec.sqlite_path}", schema=spec.schema)
    try:
        return await db.read(_count_transfers)
    finally:
        await db.close()


async def api_run(server: ApiServer, count: int, concurrency: int, run_id: str) -> Figures:
    requests = payment_requests(server, count, run_id)
    before = await _booked(server.spec)
    result = await run_load(
        server.spec.port,
        requests,
        concurrency=concurrency,
        time_limit_seconds=600,
        server_pid=server.pid,
    )
    booked = await _booked(server.spec) - before
    if result.statuses != {201: count} or booked != count:
        print(f"  !! {dict(result.statuses)} answered, {booked} booked for {count} payments sent")
    return Figures(
        result.count,
        result.elapsed_seconds,
        tuple(result.latencies_seconds),
        result.server_cpu_per_request_us,
    )


# --- the raw limit --------------------------------------------------------------------

RAW_SQLITE_SCHEMA = """
CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL,
                       credit_limit INTEGER NOT NULL);
CREATE TABLE entries (id INTEGER PRIMARY KEY, transfer_id TEXT NOT NULL,
                      account_id TEXT NOT NULL, amount INTEGER NOT NULL);
"""


def raw_sqlite(path: Path, count: int) -> Figures:
    """Plain sqlite3, same pragmas as the app: one transaction per transfer."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(RAW_SQLITE_SCHEMA)
    conn.executemany(
        "INSERT INTO accounts VALUES (?, 0, 1000000000000)", [(f"m{i}",) for i in range(MEMBERS)]
    )
    pairs = random.Random(1)
    work = [(f"t{i}", *(f"m{x}" for x in pairs.sample(range(MEMBERS), 2))) for i in range(count)]
    latencies = []
    started = time.perf_counter()
    for transfer_id, debit, credit in work:
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "UPDATE accounts SET balance = balance - 1"
            " WHERE id = ? AND balance - 1 >= -credit_limit",
            (debit,),
        )
        assert cursor.rowcount == 1
        conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = ?", (credit,))
        conn.executemany(
            "INSERT INTO entries (transfer_id, account_id, amount) VALUES (?, ?, ?)",
            ((transfer_id, debit, -1), (transfer_id, credit, 1)),
        )
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - began)
    figures = Figures(count, time.perf_counter() - started, tuple(latencies))
    conn.close()
    return figures


RAW_PG_TRANSFER = """
WITH debit AS (
    UPDATE {s}.accounts SET balance = balance - $3
    WHERE id = $1 AND balance - $3 >= -credit_limit RETURNING id
), credit AS (
    UPDATE {s}.accounts SET balance = balance + $3
    WHERE id = $2 AND EXISTS (SELECT 1 FROM debit) RETURNING id
), entries AS (
    INSERT INTO {s}.entries (transfer_id, account_id, amount)
    SELECT $4, $1, -$3 FROM credit UNION ALL SELECT $4, $2, $3 FROM credit
    RETURNING 1
)
SELECT count(*) FROM entries
"""


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """The statement keeps no session state: nothing to reset."""


async def raw_postgres(url: str, schema: str, count: int, concurrency: int) -> Figures:
    """One asyncpg statement per transfer (autocommit), the raw limit on PostgreSQL."""
    dsn = asyncpg_dsn(url)
    setup = await asyncpg.connect(dsn)
    await setup.execute(
        f'CREATE TABLE "{schema}".accounts (id text PRIMARY KEY, balance bigint NOT NULL, '
        f"credit_limit bigint NOT NULL); "
        f'CREATE TABLE "{schema}".entries (id bigserial PRIMARY KEY, transfer_id text NOT NULL, '
        f"account_id text NOT NULL, amount bigint NOT NULL)"
    )
    await setup.executemany(
        f'INSERT INTO "{schema}".accounts VALUES ($1, 0, 1000000000000)',
        [(f"m{i}",) for i in range(MEMBERS)],
    )
    await setup.close()
    statement = RAW_PG_TRANSFER.format(s=f'"{schema}"')
    pairs = random.Random(concurrency)
    work = [[f"m{x}" for x in pairs.sample(range(MEMBERS), 2)] for _ in range(count)]
    # No reset between uses (a round trip each), as `Database.fetch_batched` does.
    pool = await asyncpg.create_pool(
        dsn, min_size=concurrency, max_size=concurrency, reset=_keep_session
    )
    try:

        async def pay(i: int) -> None:
            async with pool.acquire() as conn:
                if await conn.fetchval(statement, *work[i], 1, f"t{i}") != 2:
                    raise RuntimeError("raw transfer refused")

        return await drive(count, concurrency, pay)
    finally:
        await pool.close()


# --- audit ----------------------------------------------------------------------------


async def audit_run(url: str, schema: str | None, transfers: int) -> tuple[float, int, float]:
    """(seconds to load, problems found, seconds to audit) for ``transfers`` transfers."""
    db = Database(url, schema=schema)
    try:
        await upgrade(db)
        await db.write(create_ledger, CURRENCY, T0)
        started = time.perf_counter()
        await load_transfers(db, url, schema, transfers, accounts=10_000)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        problems = await db.read(audit)
        return loaded, len(problems), time.perf_counter() - started
    finally:
        await db.close()


# --- running --------------------------------------------------------------------------


async def best(rounds: int, run) -> Figures:
    results = [await run() for _ in range(rounds)]
    return max(results, key=lambda figures: figures.rate)


Run = Callable[[], Awaitable[Figures]]


async def best_in_turns(rounds: int, runs: dict[str, Run]) -> dict[str, Figures]:
    """The best of ``rounds`` rounds of each run, the runs taking turns: the shared
    machine's load drifts, and a ratio of figures measured minutes apart drifts with it."""
    results: dict[str, list[Figures]] = {key: [] for key in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            results[key].append(await run())
    return {key: max(figures, key=lambda f: f.rate) for key, figures in results.items()}


def domain_runs(args: argparse.Namespace, url: str | None) -> dict[int, Run]:
    runs = {}
    for concurrency in (1, 32):
        count = args.payments if concurrency > 1 else args.payments // 4

        async def run(concurrency: int = concurrency, count: int = count) -> Figures:
            if url is None:
                with tempfile.TemporaryDirectory() as tmp:
                    return await domain_run(f"sqlite:///{tmp}/ledger.db", None, count, concurrency)
            async with postgres_schema(url, "ledger") as schema:
                return await domain_run(url, schema, count, concurrency)

        runs[concurrency] = run
    return runs


async def api_figures(args: argparse.Namespace, url: str | None) -> dict[int, Figures]:
    """Both concurrencies on one served instance (its members take a while to make)."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with postgres_schema(url, "api") as schema:
            with contextlib.ExitStack() as stack:  # the server stops before its schema goes
                server = await start_api_server(Path(tmp), stack, url, schema, args.api_members)
                runs = itertools.count()  # each run's Idempotency-Keys are its own
                for concurrency in (1, 32):
                    count = args.api_payments if concurrency > 1 else args.api_payments // 4

                    async def run(concurrency: int = concurrency, count: int = count) -> Figures:
                        return await api_run(server, count, concurrency, f"run{next(runs)}")

                    figures[concurrency] = await best(args.rounds, run)
    return figures


def raw_runs(args: argparse.Namespace, url: str | None) -> dict[int, Run]:
    if url is None:

        async def run_sqlite() -> Figures:
            with tempfile.TemporaryDirectory() as tmp:
                return raw_sqlite(Path(tmp) / "raw.db", args.payments)

        return {1: run_sqlite}
    runs = {}
    for concurrency in (1, 32):

        async def run(concurrency: int = concurrency) -> Figures:
            async with postgres_schema(url, "raw") as schema:
                return await raw_postgres(url, schema, args.payments, concurrency)

        runs[concurrency] = run
    return runs


async def domain_and_raw_figures(
    args: argparse.Namespace, url: str | None
) -> tuple[dict[int, Figures], dict[int, Figures]]:
    """Domain and raw runs in turns, each concurrency's domain run beside its raw run."""
    domain, raw = domain_runs(args, url), raw_runs(args, url)
    runs = {}
    for concurrency in (1, 32):
        runs[f"domain {concurrency}"] = domain[concurrency]
        if concurrency in raw:
            runs[f"raw {concurrency}"] = raw[concurrency]
    figures = await best_in_turns(args.rounds, runs)
    return (
        {c: figures[f"domain {c}"] for c in domain},
        {c: figures[f"raw {c}"] for c in raw},
    )


async def bench_engine(args: argparse.Namespace, name: str, url: str | None) -> None:
    domain, raw = await domain_and_raw_figures(args, url)
    raw_name = "raw sqlite3, 1 transaction each" if url is None else "raw asyncpg CTE"
    rows = [
        (f"domain, concurrency {c}", f"{f.rate:,.0f}/s", f.latency()) for c, f in domain.items()
    ]
    rows += [
        (f"{raw_name}, concurrency {c}", f"{f.rate:,.0f}/s", f.latency()) for c, f in raw.items()
    ]
    if args.api_payments:
        api = await api_figures(args, url)
        rows += [
            (
                f"REST API ({args.api_members} members), concurrency {c}",
                f"{f.rate:,.0f}/s",
                f.latency(),
            )
            for c, f in api.items()
        ]
        rows.append(("REST API (32) / domain (32)", f"{api[32].rate / domain[32].rate:.2f}", ""))
    if url is None:
        rows.append(("domain (32) / aim of 5,000/s", f"{domain[32].rate / 5_000:.2f}", ""))
    else:
        best_raw = max(raw.values(), key=lambda f: f.rate)
        rows.append(("domain (32) / best raw", f"{domain[32].rate / best_raw.rate:.2f}", "aim 0.8"))
    print_table(f"{name}: payments", rows)
    await bench_audit(args, name, url)


async def bench_audit(args: argparse.Namespace, name: str, url: str | None) -> None:
    n = args.audit_transfers
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            loaded, problems, seconds = await audit_run(f"sqlite:///{tmp}/audit.db", None, n)
    else:
        async with postgres_schema(url, "audit") as schema:
            loaded, problems, seconds = await audit_run(url, schema, n)
    figure = f"{seconds:.1f} s"
    line = f"{n / seconds:,.0f} transfers/s, {problems} problems (aim: 10^6 in < 60 s)"
    print_table(f"{name}: audit", [(f"audit of {n:,} transfers", figure, line)])
    print(f"  (bulk load took {loaded:.1f} s)")


async def postgres_url(args: argparse.Namespace) -> str | None:
    url = args.database_url or os.environ.get("FEDIVERSE_SHARE_TEST_DATABASE_URL")
    url = url or "postgresql://postgres@127.0.0.1:5432/test"
    try:
        conn = await asyncio.wait_for(asyncpg.connect(asyncpg_dsn(url)), 3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        print(f"\nPostgreSQL not reachable ({type(error).__name__}): skipped")
        return None
    await conn.close()
    return url


EngineBench = Callable[[argparse.Namespace, str, "str | None"], Awaitable[None]]


async def on_both_engines(args: argparse.Namespace, bench: EngineBench) -> None:
    """``bench`` on SQLite (unless --postgres-only), then on PostgreSQL if it answers."""
    if not args.postgres_only:
        await bench(args, "SQLite", None)
    url = await postgres_url(args)
    if url is not None:
        await bench(args, "PostgreSQL", url)


async def run(args: argparse.Namespace) -> None:
    print(f"payments between random pairs of {MEMBERS:,} members; best of {args.rounds} rounds")
    await on_both_engines(args, bench_engine)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--payments", type=int, default=20_000, help="per run at concurrency 32")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--api-payments", type=int, default=10_000, help="per REST run at concurrency 32 (0: skip)"
    )
    parser.add_argument("--api-members", type=int, default=200)
    parser.add_argument("--audit-transfers", type=int, default=100_000)
    parser.add_argument("--database-url", help="PostgreSQL (default: the test database)")
    parser.add_argument("--postgres-only", action="store_true")
    return parser.parse_args()


def main() -> None:
    run_async(lambda: run(parse_args()))


if __name__ == "__main__":
    main()
