"""How the application reaches its database.

Every query is a plain synchronous function ``fn(conn, *args)`` on a SQLAlchemy
``Connection``. `Database` runs such functions so that each costs one hop between
the event loop and the driver, whatever the engine:

* **SQLite** (the embedded default): a stock ``sqlite3`` engine. Reads run on a
  small thread pool. Writes go to a single writer thread that *group-commits*:
  it takes every write waiting in its queue, runs each inside its own SAVEPOINT
  (so each keeps its own outcome: a write that raises is rolled back alone), and
  commits them together. One writer also means that checks and updates of a
  write (a credit limit, say) cannot interleave with another write.

  We use ``sqlite3`` in our own threads rather than aiosqlite because aiosqlite
  pays a thread hop for every statement: measured on this machine a ledger
  transfer through SQLAlchemy async on aiosqlite ran at about 550/s, against
  16,000/s for the same SQL in plain ``sqlite3`` (DESIGN §7, bench/ledger.py).

* **PostgreSQL**: asyncpg through SQLAlchemy's async engine; the same sync-style
  function runs inside ``AsyncConnection.run_sync`` (greenlet, no thread), one
  database transaction per write, retried on serialisation failures and deadlocks.
  Writes that must not interleave lock their rows (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

P = ParamSpec("P")
T = TypeVar("T")
Query = Callable[Concatenate[Connection, P], T]

# SQLSTATEs after which a PostgreSQL transaction may simply be tried again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_MAX_PG_ATTEMPTS = 8
_MAX_BATCH = 256


def normalise_url(url: str) -> str:
    """Pick the drivers we run: ``sqlite`` (stdlib) and ``postgresql+asyncpg``."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + url.split("://", 1)[1]
    return url


class Database:
    """A database that runs sync query functions with one hop each (see module doc)."""

    def __init__(self, url: str, *, schema: str | None = None, readers: int = 4) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        self._impl: _SQLite | _Postgres
        if self.dialect == "sqlite":
            self._impl = _SQLite(self.url, readers)
        elif self.dialect == "postgresql":
            self._impl = _Postgres(self.url, schema)
        else:
            raise ValueError(f"unsupported database URL scheme: {self.dialect}")

    def __repr__(self) -> str:
        # The URL may carry a password: never show it.
        return f"Database(dialect={self.dialect!r})"

    async def read(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, ...)`` on a connection; nothing it writes is committed."""
        return await self._impl.read(fn, *args, **kwargs)

    async def write(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, ...)`` in a transaction of its own and commit it.

        If ``fn`` raises, nothing it wrote is kept and the exception is raised here.
        """
        return await self._impl.write(fn, *args, **kwargs)

    async def exclusive(self, fn: Query[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Like `write`, but alone in its transaction (schema migrations, bulk jobs)."""
        return await self._impl.exclusive(fn, *args, **kwargs)

    async def close(self) -> None:
        await self._impl.close()


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    alone: bool = False
    outcome: tuple[bool, Any] = field(default=(False, None))


def _resolve(job: _Job) -> None:
    if job.future.cancelled():
        return
    ok, value = job.outcome
    if ok:
        job.future.set_result(value)
    else:
        job.future.set_exception(value)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=8, max_overflow=8)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin,
        # so SAVEPOINTs behave (see SQLAlchemy's "pysqlite serializable" recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")

    return engine


class _SQLite:
    def __init__(self, url: str, readers: int) -> None:
        self.engine = _sqlite_engine(url)
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-read")
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        #: Jobs submitted during the current event-loop iteration (see `_submit`).
        self._pending: list[_Job] = []
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-write", daemon=True)
        self._writer.start()

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            with self.engine.connect() as conn:
                return fn(conn, *args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._submit(fn, args, kwargs, alone=False)

    async def exclusive(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._submit(fn, args, kwargs, alone=True)

    async def _submit(self, fn: Callable[..., T], args: Any, kwargs: Any, *, alone: bool) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, kwargs, loop, loop.create_future(), alone)
        # Jobs reach the writer once per event-loop iteration, not one by one: handed
        # over singly, the writer woke for nearly every job and committed batches of
        # 1-4; together they make one wake-up and one commit (bench/inbox.py: mean
        # batch 3.7 -> 31, ~50 µs less CPU per inbox POST).
        if not self._pending:
            loop.call_soon(self._hand_over)
        self._pending.append(job)
        result: T = await job.future
        return result

    def _hand_over(self) -> None:
        jobs, self._pending = self._pending, []
        for job in jobs:
            self._queue.put(job)

    def _write_loop(self) -> None:
        with self.engine.connect() as conn:
            conn.info["writer"] = True
            while (batch := self._next_batch()) is not None:
                self._run_batch(conn, batch)
                for job in batch:
                    job.loop.call_soon_threadsafe(_resolve, job)

    def _next_batch(self) -> list[_Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while not first.alone and len(batch) < _MAX_BATCH:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # stop after this batch
                break
            if job.alone:
                self._queue.put(job)  # ordering among exclusive jobs is not promised
                break
            batch.append(job)
        return batch

    @staticmethod
    def _run_batch(conn: Connection, batch: list[_Job]) -> None:
        try:
            with conn.begin():
                for job in batch:
                    if job.alone:
                        job.outcome = (True, job.fn(conn, *job.args, **job.kwargs))
                        continue
                    # Plain SQL with one fixed name: SQLAlchemy's begin_nested() compiles
                    # a new "sa_savepoint_N" each time (uncached) and cost 35 µs a job
                    # against 9 µs for this (bench/inbox.py); jobs never overlap here.
                    conn.exec_driver_sql("SAVEPOINT job")
                    try:
                        value = job.fn(conn, *job.args, **job.kwargs)
                    except Exception as exc:  # handed to the caller, who decides
                        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT job")
                        conn.exec_driver_sql("RELEASE SAVEPOINT job")
                        job.outcome = (False, exc)
                    else:
                        conn.exec_driver_sql("RELEASE SAVEPOINT job")
                        job.outcome = (True, value)
        except Exception as exc:  # the commit (or an exclusive job) failed: nothing kept
            for job in batch:
                job.outcome = (False, exc)

    async def close(self) -> None:
        self._hand_over()  # jobs submitted just now still run
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._readers.shutdown(wait=True)
        self.engine.dispose()


class _Postgres:
    def __init__(self, url: str, schema: str | None) -> None:
        # Imported here, so that SQLite-only processes never load SQLAlchemy's asyncio
        # extension (8 MB of RSS in `serve`, measured with bench/memory.py).
        from sqlalchemy.ext.asyncio import create_async_engine

        # JIT compilation costs milliseconds per short OLTP statement (measured: a ledger
        # transfer took 10 ms with it, bench/ledger.py), and we run no analytics here.
        server_settings = {"jit": "off"}
        if schema:
            server_settings["search_path"] = schema
        connect_args = {"server_settings": server_settings}
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=10, max_overflow=10, connect_args=connect_args
        )

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        for attempt in range(1, _MAX_PG_ATTEMPTS + 1):
            try:
                async with self.engine.begin() as conn:
                    return await conn.run_sync(fn, *args, **kwargs)
            except DBAPIError as exc:
                if attempt == _MAX_PG_ATTEMPTS or _sqlstate(exc) not in _RETRYABLE_SQLSTATES:
                    raise
                await asyncio.sleep(0.002 * attempt)
        raise AssertionError("unreachable")

    exclusive = write

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    for name in ("sqlstate", "pgcode"):
        with contextlib.suppress(AttributeError):
            value = getattr(orig, name)
            if isinstance(value, str):
                return value
    cause = getattr(orig, "__cause__", None)
    value = getattr(cause, "sqlstate", None)
    return value if isinstance(value, str) else None
