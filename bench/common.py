"""Plumbing the benches share: real instances in subprocesses, a lean load client.

Everything runs on 127.0.0.1. Instances are the real thing: ``fediverse-share init``
and ``serve`` in subprocesses, each with its own data directory (and, on PostgreSQL,
its own schema, dropped afterwards). The load client is a minimal HTTP/1.1 client on
keep-alive connections that writes pre-rendered request bytes and reads the status
line, the headers and a ``Content-Length`` body: a few µs of CPU per request, where
httpx spends milliseconds, so the server is what gets measured.

Also a uvicorn factory for the hello-world app that `bench/inbox.py` compares with:
``uvicorn --app-dir bench --factory common:hello_app``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
T = TypeVar("T")


# --- processes -------------------------------------------------------------------------


def free_port() -> int:
    """An ephemeral port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def cli_argv(data_dir: Path, *args: str) -> list[str]:
    """``fediverse-share --data-dir DIR ARGS`` with this interpreter (the venv's)."""
    return [sys.executable, "-m", "fediverse_share", "--data-dir", str(data_dir), *args]


def start_process(argv: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 15) -> None:
    """SIGTERM (uvicorn shuts down gracefully), SIGKILL if it takes too long."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def wait_until_serving(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Until the server answers an HTTP request (uvicorn binds after the lifespan ran)."""
    request = f"GET /nodeinfo-probe HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n\r\n".encode()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited:\n{log_tail(log_path)}")
        with contextlib.suppress(OSError):
            connection = await Connection.open(port)
            try:
                await connection.request(request)
                return
            finally:
                connection.close()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start:\n{log_tail(log_path)}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time all processes on the machine have used so far (busy, from /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


# --- instances -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """One instance's place: data directory, port, database (SQLite unless a URL)."""

    name: str
    data_dir: Path
    port: int
    database_url: str | None = None
    schema: str | None = None

    @property
    def domain(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "fediverse-share.db"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.schema:
            env["FEDIVERSE_SHARE_DATABASE_SCHEMA"] = self.schema
        return env


def init_instance(spec: InstanceSpec, *usernames: str) -> None:
    """``fediverse-share init`` for loopback (http, private addresses), then ``user add``."""
    database = ["--database-url", spec.database_url] if spec.database_url else []
    init = [
        *("init", "--domain", spec.domain, "--community", spec.name, "--currency", "BNC"),
        *("--allow-http", "--allow-private-addresses", *database),
    ]
    _run_cli(spec, init)
    for username in usernames:
        _run_cli(spec, ["user", "add", username])


def _run_cli(spec: InstanceSpec, args: list[str]) -> None:
    done = subprocess.run(
        cli_argv(spec.data_dir, *args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=spec.env(),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fediverse-share {args[0]} failed:\n{done.stderr.decode()}")


async def serve_instance(
    spec: InstanceSpec, stack: contextlib.ExitStack, *, worker: bool = False
) -> subprocess.Popen[bytes]:
    """``fediverse-share serve`` on the spec's port, stopped when ``stack`` closes."""
    args = ["serve", "--host", LOOPBACK, "--port", str(spec.port)]
    if not worker:
        args.append("--no-worker")
    log_path = spec.data_dir / "serve.log"
    process = start_process(cli_argv(spec.data_dir, *args), log_path, spec.env())
    stack.callback(stop_process, process)
    await wait_until_serving(process, spec.port, log_path)
    return process


async def serve_hello(tmp: Path, stack: contextlib.ExitStack) -> tuple[int, int]:
    """The hello-world app, served as ``serve`` serves ours; returns (pid, port)."""
    port = free_port()
    argv = [
        *(sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH_DIR), "--factory"),
        *("common:hello_app", "--host", LOOPBACK, "--port", str(port)),
        *("--proxy-headers", "--log-level", "info"),
    ]
    log_path = tmp / "hello.log"
    process = start_process(argv, log_path, dict(os.environ))
    stack.callback(stop_process, process)
    await wait_until_serving(process, port, log_path)
    return process.pid, port


def hello_app() -> Any:
    """A minimal Starlette app: ``GET /`` answers ``Hello, world!``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("Hello, world!")

    return Starlette(routes=[Route("/", hello)])


# --- PostgreSQL ------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


async def postgres_execute(url: str, statement: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval(statement)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def postgres_schema(url: str | None, name: str) -> Any:
    """A fresh schema for one bench run (None on SQLite), dropped afterwards."""
    if not url:
        yield None
        return
    schema = f"bench_{name}_{secrets.token_hex(4)}"
    await postgres_execute(url, f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await postgres_execute(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --- the load client -------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request in flight, answers by status."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None
        #: The body of the last answer (the load client only looks at statuses).
        self.last_body = b""
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, port: int, host: str = LOOPBACK) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio and uvloop both set TCP_NODELAY on their TCP transports.
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        answer = take_message(self._buffer)
        if answer is not None:
            self._waiter = None
            self.last_body = answer[1]
            waiter.set_result(int(answer[0][9:12]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    def request(self, data: bytes) -> asyncio.Future[int]:
        """Send one pre-rendered request; the future gets the answer's status code."""
        assert self._transport is not None and self._waiter is None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def take_message(buffer: bytearray) -> tuple[bytes, bytes] | None:
    """Remove one whole HTTP/1.1 message (``Content-Length`` framed) from ``buffer``.

    Returns its head, lowercased (start line and headers), and its body; None while
    the message is incomplete.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        if b"\r\ntransfer-encoding:" in head:
            raise ValueError("chunked messages are not supported here")
        length = 0
    else:
        stop = head.find(b"\r\n", start + 2)
        length = int(head[start + 17 : stop if stop > 0 else None])
    total = end + 4 + length
    if len(buffer) < total:
        return None
    body = bytes(buffer[end + 4 : total])
    del buffer[:total]
    return head, body


@dataclass(slots=True)
class LoadResult:
    """What a load run saw: statuses, per-request latencies, wall and CPU time."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies_seconds: list[float] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    machine_cpu_seconds: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.count / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def cores(self, cpu_seconds: float) -> float:
        return cpu_seconds / self.elapsed_seconds if self.elapsed_seconds else 0.0

    def describe(self) -> str:
        """Count, time and who used the CPU meanwhile ("rest": everything else on the
        machine, other processes and the kernel's loopback work)."""
        # Clamped: /proc/stat and the processes' own counters tick apart by a little.
        others = max(
            0.0, self.machine_cpu_seconds - self.server_cpu_seconds - self.client_cpu_seconds
        )
        return (
            f"{self.count:,} in {self.elapsed_seconds:.2f} s, {self.rate:,.0f}/s, "
            f"p99 {self.percentile_ms(0.99):.1f} ms, server CPU "
            f"{self.server_cpu_per_request_us:.0f} µs/request; CPU cores: server "
            f"{self.cores(self.server_cpu_seconds):.2f}, client "
            f"{self.cores(self.client_cpu_seconds):.2f}, rest {self.cores(others):.2f}"
        )

    @property
    def server_cpu_per_request_us(self) -> float:
        return self.server_cpu_seconds / self.count * 1e6 if self.count else 0.0

    def percentile_ms(self, fraction: float) -> float:
        return percentile_ms(self.latencies_seconds, fraction)


def percentile_ms(latencies_seconds: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile (0.99: p99) of latencies in seconds, in milliseconds."""
    ordered = sorted(latencies_seconds)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1e3


async def run_load(
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    time_limit_seconds: float,
    server_pid: int | None = None,
) -> LoadResult:
    """Send ``requests`` over ``concurrency`` keep-alive connections, each one in turn.

    Stops early (with fewer requests sent) once ``time_limit_seconds`` have passed.
    """
    connections = [await Connection.open(port) for _ in range(concurrency)]
    result = LoadResult()
    indices = itertools.count()
    deadline = time.perf_counter() + time_limit_seconds

    async def drive(connection: Connection) -> None:
        clock = time.perf_counter
        while (index := next(indices)) < len(requests) and clock() < deadline:
            started = clock()
            status = await connection.request(requests[index])
            result.latencies_seconds.append(clock() - started)
            result.statuses[status] += 1

    server_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    machine_cpu = machine_cpu_seconds()
    cpu, started = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(*(drive(connection) for connection in connections))
    finally:
        for connection in connections:
            connection.close()
    result.elapsed_seconds = time.perf_counter() - started
    result.client_cpu_seconds = time.process_time() - cpu
    result.machine_cpu_seconds = machine_cpu_seconds() - machine_cpu
    if server_pid:
        result.server_cpu_seconds = cpu_seconds(server_pid) - server_cpu
    return result


def render_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request (``Content-Length`` added when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- running ---------------------------------------------------------------------------


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run on uvloop when it is installed (uvicorn[standard] brings it), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())  # type: ignore[arg-type]
    return uvloop.run(main())  # type: ignore[arg-type]


def chunks(count: int, parts: int) -> Iterator[range]:
    """``range(count)`` cut into ``parts`` contiguous pieces."""
    size = -(-count // max(parts, 1))
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


def print_table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """A short table: what, figure, aim."""
    print(f"\n{title}")
    width = max(len(row[0]) for row in rows)
    figure_width = max(14, *(len(row[1]) for row in rows))
    for what, figure, aim in rows:
        print(f"  {what:<{width}}  {figure:>{figure_width}}  {aim}")
