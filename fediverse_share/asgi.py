"""Entry point for ASGI servers: ``uvicorn --factory fediverse_share.asgi:app_from_environment``."""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from fediverse_share.app import create_app
from fediverse_share.settings import Settings


def app_from_environment() -> Starlette:
    app = create_app(Settings.load())
    settle_collector()
    return app


def settle_collector() -> None:
    """Set the cyclic GC up for serving, once start-up is done (benches that serve in
    their own process call it too, to measure what a server does)."""
    # Everything imported by now lives as long as the process: move it out of the
    # cyclic GC's reach, so that full collections stop walking it. Measured with
    # bench/inbox.py: 13 full collections of 50-115 ms each in 20,000 inbox POSTs
    # (the p99) became 2-5 ms each.
    gc.collect()
    gc.freeze()
    # Young collections every 700 allocations walked every request in flight each
    # time: ~1,500 gen-0 and ~140 gen-1 collections, ~420 ms, in 21,000 inbox POSTs,
    # ~20 µs of each POST's ~250 µs of CPU. Every 10,000 allocations they nearly
    # vanish (bench/inbox.py: ~7% less CPU per POST), for a little more young garbage.
    gc.set_threshold(10_000, 10, 10)
