"""Running a hypothesis state machine against a real, migrated database.

State machines are synchronous; the database is async. `Runner` drives the
`Database` on an event loop of its own, and `run_machine` gives the machine class a
fresh database (SQLite, or a PostgreSQL schema when FEDIVERSE_SHARE_TEST_DATABASE_URL
names a server) and runs it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from fediverse_share.database import Database
from fediverse_share.migrations import upgrade
from tests.support.databases import fresh_database_url


class Runner:
    """Runs ledger functions on a Database from synchronous code (the state machine)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, db: Database) -> None:
        self.loop, self.db = loop, db
        self.calls = 0  # how many database calls the machine made, over all its runs

    def write(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.loop.run_until_complete(self.db.write(fn, *args, **kwargs))

    def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.loop.run_until_complete(self.db.read(fn, *args, **kwargs))


def run_machine(
    machine: type[RuleBasedStateMachine], tmp_path: Path, *, examples: int, steps: int
) -> int:
    """Run ``machine`` (whose ``runner`` attribute it sets) on a fresh database; its
    rules and invariants assert as they go. Returns how many database calls it made."""
    loop = asyncio.new_event_loop()
    url_context = fresh_database_url(
        os.environ.get("FEDIVERSE_SHARE_TEST_DATABASE_URL", ""), tmp_path
    )
    try:
        url, schema = loop.run_until_complete(url_context.__aenter__())
        db = Database(url, schema=schema)
        loop.run_until_complete(upgrade(db))
        runner = Runner(loop, db)
        bound = type("Machine", (machine,), {"runner": runner})
        run_state_machine_as_test(
            bound,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,  # each run explores afresh; a failure prints its steps
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
        loop.run_until_complete(db.close())
        return runner.calls
    finally:
        loop.run_until_complete(url_context.__aexit__(None, None, None))
        loop.close()
