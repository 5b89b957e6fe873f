"""Fan-out: one post delivered to many followers through the real worker step.

    .venv/bin/python bench/fanout.py [--followers 10000] [--servers 200] [--distinct 2000]
    .venv/bin/python bench/fanout.py --database-url postgresql://postgres@127.0.0.1:5432/test

An instance (``fediverse-share init``, SQLite or a PostgreSQL schema of its own) runs in
this process through `fediverse_share.standalone.runtime`, with the production delivery
client (`activitypub.delivery_client`). Its followers are seeded in one write, straight
into ``actors`` and ``follows`` (a bench may; tests may not): ``--followers`` of member
``alice`` spread over ``--servers`` loopback servers that offer a shared inbox, and
``--distinct`` followers of member ``bob`` with personal inboxes only, on the same
servers. The servers are tiny raw asyncio sinks (one helper process, one port each) that
answer 202 and count what they receive. Each member then posts once
(`federation.actions.post`), and `federation.delivery.deliver_due` runs until idle: the
worker's step, unchanged.

Printed: the time to queue the post, deliveries per second and the time to drain, the
raw RSA-2048 signing rate of the same kind of request measured in the same run (and the
CPU each signature takes), each drain's rate as a share of it, by the clock and by CPU,
and, side by side on the same queue, the same worker step with a leaner keep-alive HTTP/1.1 client
in place of the production one, for a floor to compare with (``--no-compare`` skips it;
``--profile`` prints where the production drain spends its time). The sinks must have
received exactly one signed POST per queued job.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from common import (
    Connection,
    InstanceSpec,
    free_port,
    init_instance,
    postgres_schema,
    print_table,
    render_request,
    run_async,
    stop_process,
    take_message,
)
from sqlalchemy import Connection as DbConnection
from sqlalchemy import func, insert, select

from activitypub import delivery as ap_delivery
from activitypub.addresses import AddressPolicy
from activitypub.signatures import sign_request
from activitypub.vocabulary import ACTIVITY_JSON
from fediverse_share import members, standalone, tables
from fediverse_share.clock import now_us
from fediverse_share.federation import actions, delivery
from fediverse_share.http import address_policy
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings
from fediverse_share.signing_keys import SigningKey

NOTE = "<p>" + "Who can lend me a ladder on Saturday? I bring cake. " * 3 + "</p>"
ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
SINK_LIFETIME_SECONDS = 900
MAX_DRAIN_SECONDS = 300

# --- the sinks (a helper process) ------------------------------------------------------


class Sink(asyncio.Protocol):
    """Answers every POST with 202 and counts it; ``GET /count`` reports the counts."""

    def __init__(self, counts: dict[str, Any]) -> None:
        self._counts = counts
        self._buffer = bytearray()
        self._transport: Any = None
        self._port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._port = transport.get_extra_info("sockname")[1]
        self._counts["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (request := take_message(self._buffer)) is not None:
            self._transport.write(self._answer(request[0]))

    def _answer(self, head: bytes) -> bytes:
        if head.startswith(b"get /count"):
            body = json.dumps({**self._counts, "inboxes": len(self._counts["inboxes"])}).encode()
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        self._counts["posts"] += 1
        self._counts["signed"] += b"\r\nsignature:" in head
        path = head.split(b" ", 2)[1].decode()
        self._counts["inboxes"].add(f"{self._port}{path}")
        return ACCEPTED


async def serve_sinks(count: int) -> None:
    """``count`` sinks on loopback ports; prints the ports, serves for a bounded time."""
    loop = asyncio.get_running_loop()
    counts: dict[str, Any] = {"posts": 0, "signed": 0, "connections": 0, "inboxes": set()}
    servers = [await loop.create_server(lambda: Sink(counts), "127.0.0.1", 0) for _ in range(count)]
    print(json.dumps([server.sockets[0].getsockname()[1] for server in servers]), flush=True)
    await asyncio.sleep(SINK_LIFETIME_SECONDS)  # the bench stops us long before


def start_sinks(count: int, tmp: Path, stack: contextlib.ExitStack) -> list[int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-sinks", str(count)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=(tmp / "sinks.log").open("wb"),
    )
    stack.callback(stop_process, process)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"the sinks did not start: {(tmp / 'sinks.log').read_text()}")
    return [int(port) for port in json.loads(line)]


async def sink_counts(port: int) -> dict[str, int]:
    connection = await Connection.open(port)
    try:
        await connection.request(render_request("GET", "/count", {"Host": "127.0.0.1"}))
        return dict(json.loads(connection.last_body))
    finally:
        connection.close()


# --- seeding ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Follower:
    uri: str
    inbox: str
    shared_inbox: str | None


def followers_on(ports: list[int], count: int, prefix: str, *, shared: bool) -> list[Follower]:
    """``count`` remote followers spread over the sinks' ports, round robin."""
    found = []
    for number in range(count):
        origin = f"http://127.0.0.1:{ports[number % len(ports)]}"
        uri = f"{origin}/users/{prefix}{number}"
        found.append(Follower(uri, f"{uri}/inbox", f"{origin}/inbox" if shared else None))
    return found


def _actor_row(runtime: Runtime, follower: Follower, at_us: int) -> dict[str, Any]:
    domain, username = follower.uri.split("/")[2], follower.uri.rsplit("/", 1)[1]
    return {
        **{"id": runtime.ids.next_id(), "uri": follower.uri, "type": "Person"},
        **{"username": username, "domain": domain, "local": False, "name": username},
        **{"summary": "", "inbox": follower.inbox, "shared_inbox": follower.shared_inbox},
        **{"followers_url": f"{follower.uri}/followers", "key_id": f"{follower.uri}#main-key"},
        **{"manually_approves_followers": False, "discoverable": True, "gone": False},
        **{"fetched_at_us": at_us, "document": "{}"},
    }


def seed_followers(
    conn: DbConnection, runtime: Runtime, plan: list[tuple[int, list[Follower]]]
) -> int:
    """Remote actors and accepted follows of local actors, in one write; returns how many."""
    at = now_us()
    actor_rows, follow_rows = [], []
    for followed_id, followers in plan:
        for follower in followers:
            row = _actor_row(runtime, follower, at)
            actor_rows.append(row)
            follow_rows.append(
                {
                    **{"id": runtime.ids.next_id(), "follower_id": row["id"]},
                    **{"followed_id": followed_id, "uri": f"{follower.uri}#follows/{at}"},
                    **{"state": "accepted", "created_at_us": at},
                }
            )
    conn.execute(insert(tables.actors), actor_rows)
    conn.execute(insert(tables.follows), follow_rows)
    return len(follow_rows)


def queued_count(conn: DbConnection) -> int:
    d = tables.deliveries
    return int(conn.execute(select(func.count()).select_from(d)).scalar_one())


# --- a lean delivery client, for comparison --------------------------------------------


class LeanClient:
    """Signed POSTs over keep-alive HTTP/1.1 connections kept per origin.

    The address policy is checked for every new connection, as the production client's
    transport does; answers are read by status and Content-Length only.
    """

    def __init__(self, policy: AddressPolicy, timeout_seconds: float) -> None:
        self._policy = policy
        self._timeout_seconds = timeout_seconds
        self._idle: dict[tuple[str, int], list[Connection]] = {}

    async def deliver(self, url: str, body: bytes, key: SigningKey) -> ap_delivery.DeliveryResult:
        parts = self._policy.check_url_syntax(url)
        host, port = parts.hostname or "", parts.port or 80
        headers = {"Content-Type": ACTIVITY_JSON}
        headers |= sign_request(
            "POST", url, headers, body, key_id=key.key_id, private_key=key.private_key
        )
        request = render_request("POST", parts.path or "/", headers, body)
        try:
            async with asyncio.timeout(self._timeout_seconds):
                connection = await self._connection(host, port)
                status = await connection.request(request)
        except (OSError, TimeoutError) as error:
            return ap_delivery.DeliveryResult(ap_delivery.Outcome.RETRY, error=repr(error))
        self._idle.setdefault((host, port), []).append(connection)
        return ap_delivery.DeliveryResult(ap_delivery.classify(status), status)

    async def _connection(self, host: str, port: int) -> Connection:
        idle = self._idle.get((host, port))
        if idle:
            return idle.pop()
        addresses = await self._policy.resolve(host, port)
        return await Connection.open(port, addresses[0])

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()


async def deliver_due_lean(runtime: Runtime, client: LeanClient) -> int:
    """`delivery.deliver_due` with `LeanClient` in place of `activitypub.delivery.deliver`."""
    jobs = await runtime.db.write(delivery.claim_due, now_us())
    if not jobs:
        return 0
    gate = asyncio.Semaphore(delivery.CONCURRENCY)

    async def one(job: delivery.Job) -> ap_delivery.DeliveryResult:
        async with gate:
            key = await runtime.keys.signing_key(job.signer_id)
            return await client.deliver(job.inbox, job.body.encode(), key)

    results = await asyncio.gather(*(one(job) for job in jobs))
    await runtime.db.write(
        delivery.record_outcomes, list(zip(jobs, results, strict=True)), now_us()
    )
    return len(jobs)


# --- measuring -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drain:
    label: str
    queued: int
    connections: int
    queue_seconds: float
    drain_seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.queued / self.drain_seconds if self.drain_seconds else 0.0

    def row(self) -> tuple[str, str, str]:
        figure = f"{self.rate:,.0f}/s"
        detail = (
            f"{self.queued:,} jobs drained in {self.drain_seconds:.2f} s, "
            f"{self.cpu_seconds / self.queued * 1e6:,.0f} µs CPU each, "
            f"{self.connections:,} connections; post queued in {self.queue_seconds * 1e3:.0f} ms"
        )
        return self.label, figure, detail


Step = Callable[[Runtime], Awaitable[int]]


async def drain(runtime: Runtime, step: Step) -> int:
    """Run ``step`` until it reports no work, within `MAX_DRAIN_SECONDS`."""
    rounds, deadline = 0, time.monotonic() + MAX_DRAIN_SECONDS
    while await step(runtime) and time.monotonic() < deadline:
        rounds += 1
    return rounds


async def post_and_drain(
    runtime: Runtime, member: members.Member, sink_port: int, step: Step, label: str
) -> Drain:
    before = await sink_counts(sink_port)
    started = time.perf_counter()
    await actions.post(runtime, member, NOTE)
    queue_seconds = time.perf_counter() - started
    queued = await runtime.db.read(queued_count)
    started, cpu = time.perf_counter(), time.process_time()
    await drain(runtime, step)
    drain_seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    after = await sink_counts(sink_port)
    received = after["posts"] - before["posts"]
    left = await runtime.db.read(queued_count)
    if left or received != queued or after["signed"] - before["signed"] != received:
        raise RuntimeError(f"{label}: {queued} queued, {received} received, {left} left")
    # Less the connection that asked for the counts afterwards.
    connections = after["connections"] - before["connections"] - 1
    return Drain(label, queued, connections, queue_seconds, drain_seconds, cpu_seconds)


@dataclass(frozen=True, slots=True)
class Signing:
    """Signed POSTs per second, and the CPU each took (best of three tight loops)."""

    rate: float
    cpu_seconds_each: float


def measure_signing(key: SigningKey, url: str, count: int) -> Signing:
    """Signing requests of a Create's size, in tight loops."""
    body = orjson.dumps({"type": "Create", "object": {"content": NOTE}, "pad": "x" * 600})
    rate, cpu_seconds_each = 0.0, float("inf")
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            headers = {"Content-Type": ACTIVITY_JSON}
            sign_request("POST", url, headers, body, key_id=key.key_id, private_key=key.private_key)
        rate = max(rate, count / (time.perf_counter() - started))
        cpu_seconds_each = min(cpu_seconds_each, (time.process_time() - cpu) / count)
    return Signing(rate, cpu_seconds_each)


def profiled(step: Step, profile: cProfile.Profile) -> Step:
    async def run(runtime: Runtime) -> int:
        profile.enable()
        try:
            return await step(runtime)
        finally:
            profile.disable()

    return run


# --- the run ---------------------------------------------------------------------------


async def measure(runtime: Runtime, args: argparse.Namespace, ports: list[int]) -> list[Any]:
    alice = await runtime.db.read(members.get_member, "alice")
    bob = await runtime.db.read(members.get_member, "bob")
    plan = [
        (alice.actor_id, followers_on(ports, args.followers, "f", shared=True)),
        (bob.actor_id, followers_on(ports, args.distinct, "d", shared=False)),
    ]
    started = time.perf_counter()
    seeded = await runtime.db.write(seed_followers, runtime, plan)
    print(f"seeded {seeded:,} followers in {time.perf_counter() - started:.1f} s (one write)")
    key = await runtime.keys.signing_key(alice.actor_id)
    signing = measure_signing(key, f"http://127.0.0.1:{ports[0]}/inbox", args.sign_count)
    step: Step = delivery.deliver_due
    profile = cProfile.Profile()
    if args.profile:
        step = profiled(step, profile)
    # A case without followers queues nothing: it is left out (``--distinct 0``).
    cases: list[tuple[members.Member, str, str]] = []
    if args.followers:
        shared_label = f"{args.followers:,} followers, {len(ports)} shared inboxes"
        cases.append((alice, "shared", shared_label))
    if args.distinct:
        cases.append((bob, "distinct", f"{args.distinct:,} distinct inboxes"))
    drains = [
        await post_and_drain(runtime, member, ports[0], step, f"deliver_due: {label}")
        for member, _, label in cases
    ]
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    if args.compare:
        lean = LeanClient(address_policy(runtime.settings), runtime.settings.http_timeout_seconds)
        lean_step: Step = lambda runtime: deliver_due_lean(runtime, lean)  # noqa: E731
        for member, name, _ in cases:
            lean_drain = await post_and_drain(runtime, member, ports[0], lean_step, f"lean: {name}")
            drains.append(lean_drain)
        lean.close()
    return [signing, *drains]


async def measure_instance(
    args: argparse.Namespace, tmp: Path, schema: str | None, stack: contextlib.ExitStack
) -> list[Any]:
    ports = start_sinks(args.servers, tmp, stack)
    spec = InstanceSpec("fanout", tmp / "fanout", free_port(), args.database_url, schema)
    init_instance(spec, "alice", "bob")
    settings = Settings.load(data_dir=spec.data_dir, database_schema=schema, run_worker=False)
    async with standalone.runtime(settings) as runtime:
        return await measure(runtime, args, ports)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as name:
        async with postgres_schema(args.database_url, "fanout") as schema:
            with contextlib.ExitStack() as stack:
                signing, *drains = await measure_instance(args, Path(name), schema, stack)
    report(signing, drains, "PostgreSQL" if args.database_url else "SQLite")


def report(signing: Signing, drains: list[Drain], dialect: str) -> None:
    """Each drain's rate as a share of the signing rate (the aim), and the same share
    by CPU (signing's CPU each over the drain's): the latter suffers less when the
    machine is shared, since a drain waits on the sinks' process and a tight loop does not."""
    signing_cpu = f"{signing.cpu_seconds_each * 1e6:,.0f} µs CPU each"
    rows = [("RSA-2048 signed POSTs (sign only)", f"{signing.rate:,.0f}/s", signing_cpu)]
    for result in drains:
        label, figure, detail = result.row()
        ratio = result.rate / signing.rate
        by_cpu = signing.cpu_seconds_each * result.queued / result.cpu_seconds
        share = f"{ratio:.2f} × signing (aim ≥ 0.5), {by_cpu:.2f} × by CPU"
        rows.append((label, figure, f"{share}; {detail}"))
    print_table(f"fan-out through delivery.deliver_due, {dialect}", rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--followers", type=int, default=10_000, help="of alice, shared inboxes")
    parser.add_argument("--servers", type=int, default=200, help="sink servers (ports)")
    parser.add_argument("--distinct", type=int, default=2_000, help="of bob, personal inboxes")
    parser.add_argument("--sign-count", type=int, default=1_000, help="signatures per loop")
    parser.add_argument("--database-url", help="measure on PostgreSQL (a schema of its own)")
    parser.add_argument("--no-compare", dest="compare", action="store_false")
    parser.add_argument("--profile", action="store_true", help="cProfile the production drains")
    parser.add_argument("--serve-sinks", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve_sinks:
        run_async(lambda: serve_sinks(args.serve_sinks))
    else:
        run_async(lambda: run(args))


if __name__ == "__main__":
    main()
