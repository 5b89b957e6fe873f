"""Memory: resident size (RSS) of one ``serve`` process, idle and after inbox load.

    .venv/bin/python bench/memory.py [--requests 5000] [--no-worker]
    .venv/bin/python bench/memory.py --database-url postgresql://postgres@127.0.0.1:5432/test

Starts a real instance as `bench/inbox.py` does (``fediverse-share serve`` in a
subprocess, with its in-process worker unless ``--no-worker``: one process that does
everything, as a small community runs it) and a sender instance, then reads VmRSS and
VmHWM (peak) from ``/proc``: after start-up, after a shortened inbox load (signed
``Create(Note)`` POSTs at concurrency 50, all of which must be stored), and once the
worker has processed what it received. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from common import memory_kib, postgres_schema, print_table, run_async
from inbox import (
    Sender,
    Target,
    first_contact,
    presign,
    send_signed,
    start_sender,
    start_target,
    stored_count,
)

SETTLE_SECONDS = 3.0
MAX_PROCESSING_SECONDS = 120.0


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MB (10⁶ bytes, the unit of the aims)."""
    values = memory_kib(pid)
    return values["VmRSS"] * 1024 / 1e6, values["VmHWM"] * 1024 / 1e6


async def until_processed(target: Target, count: int) -> float:
    """Seconds until the worker has processed ``count`` inbox items (bounded)."""
    started = time.monotonic()
    while time.monotonic() - started < MAX_PROCESSING_SECONDS:
        if await asyncio.to_thread(stored_count, target, processed=True) >= count:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def load_and_read(
    args: argparse.Namespace, target: Target, sender: Sender
) -> list[tuple[str, str, str]]:
    """Idle RSS, the load, RSS after it, and RSS once the worker is done (if it runs)."""
    signed = presign(sender, target, range(args.requests), args.sign_workers)
    await asyncio.sleep(SETTLE_SECONDS)
    idle = rss_mb(target.pid)
    await first_contact(target, sender)
    load = await send_signed(target, signed, args.concurrency, 120)
    print(f"inbox load: {load.describe()}")
    loaded = rss_mb(target.pid)
    stored, sent = await asyncio.to_thread(stored_count, target), 1 + load.count
    rows = [
        ("idle after start-up (RSS)", f"{idle[0]:.0f} MB", "aim < 100 MB"),
        (f"after {sent:,} signed POSTs (RSS)", f"{loaded[0]:.0f} MB", "aim < 150 MB"),
        ("  peak so far (VmHWM)", f"{loaded[1]:.0f} MB", ""),
        ("  inbox items stored / sent", f"{stored:,} / {sent:,}", "must match"),
    ]
    if not args.no_worker:
        seconds = await until_processed(target, stored)
        done = rss_mb(target.pid)
        rows.append((f"after the worker processed them ({seconds:.0f} s)", f"{done[0]:.0f} MB", ""))
        rows.append(("  peak (VmHWM)", f"{done[1]:.0f} MB", ""))
    return rows


async def measure(args: argparse.Namespace, tmp: Path, schema: str | None) -> None:
    with contextlib.ExitStack() as stack:
        sender = await start_sender(tmp, stack)
        worker = not args.no_worker
        target = await start_target(tmp, stack, args.database_url, schema, worker=worker)
        rows = await load_and_read(args, target, sender)
    dialect = "PostgreSQL" if args.database_url else "SQLite"
    title = f"memory of one serve process ({'with' if worker else 'without'} its worker)"
    print_table(f"{title}, {dialect}", rows)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as name:
        async with postgres_schema(args.database_url, "memory") as schema:
            await measure(args, Path(name), schema)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=5_000, help="signed POSTs of load")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--no-worker", action="store_true", help="serve --no-worker")
    parser.add_argument("--sign-workers", type=int, default=2, help="processes that pre-sign")
    parser.add_argument("--database-url", help="measure on PostgreSQL (a schema of its own)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    run_async(lambda: run(args))


if __name__ == "__main__":
    main()
