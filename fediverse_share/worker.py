"""Background work: the same steps run in-process (``serve``), as their own process
(``fediverse-share worker``), or driven by tests with `run_until_idle`.

A step is ``async def step(runtime) -> int``: it does one bounded batch of work and
returns how much it did, so "idle" means every step returned 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fediverse_share import standalone
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings

log = logging.getLogger(__name__)

Step = Callable[[Runtime], Awaitable[int]]
IDLE_SLEEP_SECONDS = 0.5


def steps() -> list[Step]:
    from fediverse_share import ledger
    from fediverse_share.clearing import recovery
    from fediverse_share.federation import delivery, inbox
    from fediverse_share.trades import payments

    return [
        inbox.process_pending,
        delivery.deliver_due,
        recovery.resolve_prepared,
        payments.record_committed,
        ledger.expire_holds,
        ledger.settle_demurrage,
        recovery.refresh_routes,
        recovery.reconcile,
    ]


async def run_once(runtime: Runtime, *, raise_errors: bool = False) -> int:
    """Run each step once. A step that fails is logged and the others still run
    (a broken peer must not stall delivery), unless ``raise_errors`` (tests)."""
    done = 0
    for step in steps():
        try:
            done += await step(runtime)
        except Exception:
            if raise_errors:
                raise
            log.exception("worker step %s failed", getattr(step, "__name__", step))
    return done


async def run_until_idle(*runtimes: Runtime, max_rounds: int = 200) -> int:
    """Run every step of every runtime until none has work left; returns rounds used.

    Several runtimes are pumped together so that work one instance causes on
    another (a delivery, then the Accept it triggers) is drained in one call.
    """
    for round_number in range(1, max_rounds + 1):
        done = 0
        for runtime in runtimes:
            done += await run_once(runtime, raise_errors=True)
        if done == 0:
            return round_number
    raise RuntimeError(f"still busy after {max_rounds} rounds")


async def run_forever(runtime: Runtime) -> None:
    while True:
        if await run_once(runtime) == 0:
            await asyncio.sleep(IDLE_SLEEP_SECONDS)


async def run_standalone(settings: Settings) -> int:
    async with standalone.runtime(settings) as runtime:
        log.info("worker started for %s", settings.domain)
        await run_forever(runtime)
    return 0
