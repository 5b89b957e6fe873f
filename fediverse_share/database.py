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

`Database.write_batched` is for many small, independent writes of one kind (inbox
items): items submitted at about the same time go to one ``fn(conn, items)`` call,
which writes them with one statement, in one transaction; each item still gets its
own outcome. On SQLite the batch joins the writer's group commit; on PostgreSQL a
flusher (at most `_PG_FLUSHERS` at once) writes whatever has gathered while the
previous transaction ran, so a busy inbox pays one transaction per batch instead of
one per item. If ``fn`` raises for a batch, each of its items is written alone, so
one bad item fails by itself and takes nothing else down.

`Database.fetch_batched` is the same on PostgreSQL for a write that is one statement
in its own transaction (a ledger payment, `exchange.one_statement`):
items submitted while earlier statements run go to one statement, which does each
item's write and returns each item's row. Items that share a key (an account, say)
never go to the same statement, so the statement can treat its items as independent;
the later one waits for the next statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    import asyncpg
    from sqlalchemy.ext.asyncio import AsyncEngine

P = ParamSpec("P")
T = TypeVar("T")
Item = TypeVar("Item")
Item_contra = TypeVar("Item_contra", contravariant=True)
Query = Callable[Concatenate[Connection, P], T]
#: Writes many items at once: one result per item, in the items' order.
BatchQuery = Callable[[Connection, list[Item]], list[T]]


class StatementBatch(Protocol[Item_contra]):
    """One PostgreSQL statement that does the same write for several items at once
    (`Database.fetch_batched`)."""

    @property
    def sql(self) -> str:
        """The statement, as the driver takes it; one row per item, in the items' order."""
        ...

    def arguments(self, items: Sequence[Item_contra]) -> tuple[Any, ...]:
        """The statement's arguments for ``items``."""
        ...

    def keys(self, item: Item_contra) -> Iterable[Hashable]:
        """What ``item`` touches: items with a key in common go to different statements."""
        ...


# SQLSTATEs after which a PostgreSQL transaction may simply be tried again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
#: URL options that SQLAlchemy's asyncpg dialect takes for itself, not asyncpg.
_SQLALCHEMY_ONLY_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")
_MAX_PG_ATTEMPTS = 8
_MAX_BATCH = 256
# Batch transactions in flight at once per batch function on PostgreSQL (bench/inbox.py,
# concurrency 50, quiet machine: two flushers 4,741-4,998 inbox POSTs/s in six rounds,
# three 4,909-5,159/s in six, the server's one core 86-98 % busy either way).
_PG_FLUSHERS = 3
# Batch statements in flight at once (`Database.fetch_batched`), and their connections:
# more made smaller batches, slower (bench/ledger.py: two 10,000-10,300 payments/s, three
# 8,800, four 8,300-8,400).
_PG_STATEMENT_FLUSHERS = 2


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

    async def write_batched(self, fn: BatchQuery[Item, T], item: Item) -> T:
        """Write ``item`` with ``fn(conn, items)``, together with other items submitted
        for the same ``fn`` at about the same time, and commit; returns the item's result.

        ``fn`` must return one result per item, in order. If it raises for a batch, each
        item is written alone; an item that raises alone raises here, and nothing it
        wrote is kept. Committed when this returns, like `write`.
        """
        return await self._impl.write_batched(fn, item)

    async def fetch_batched(self, batch: StatementBatch[Item], item: Item) -> tuple[Any, ...]:
        """PostgreSQL only: ``item``'s row of ``batch.sql``, run for ``item`` and other
        items submitted at about the same time (see the module docstring).

        The statement runs with no transaction around it, so it is its own transaction:
        a write done in one statement costs one round trip (no BEGIN, no COMMIT). It
        runs on the driver directly (~80 µs of client CPU less than through
        SQLAlchemy's cursor, measured with bench/ledger.py), on connections of its own
        whose plans are generic (see `_Postgres._statement_connections`). Retried like
        `write`. If the statement raises for several items, each is run alone, and an
        item's own error is raised here. Committed when this returns.
        """
        if not isinstance(self._impl, _Postgres):
            raise NotImplementedError("fetch_batched is for PostgreSQL")
        return await self._impl.fetch_batched(batch, item)

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
    #: ``fn`` is a `BatchQuery` and ``args`` is ``(item,)``: see `_SQLite._run_group`.
    batched: bool = False
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

    async def write_batched(self, fn: BatchQuery[Item, T], item: Item) -> T:
        # A batched job's result is its own item's: one of the list ``fn`` returns.
        one: Callable[..., T] = cast("Callable[..., T]", fn)
        return await self._submit(one, (item,), {}, alone=False, batched=True)

    async def _submit(
        self, fn: Callable[..., T], args: Any, kwargs: Any, *, alone: bool, batched: bool = False
    ) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, kwargs, loop, loop.create_future(), alone, batched)
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

    @classmethod
    def _run_batch(cls, conn: Connection, batch: list[_Job]) -> None:
        groups: dict[Callable[..., Any], list[_Job]] = {}
        try:
            with conn.begin():
                for job in batch:
                    if job.alone:
                        job.outcome = (True, job.fn(conn, *job.args, **job.kwargs))
                    elif job.batched:
                        groups.setdefault(job.fn, []).append(job)
                    else:
                        job.outcome = _in_savepoint(conn, job.fn, *job.args, **job.kwargs)
                for fn, jobs in groups.items():
                    cls._run_group(conn, fn, jobs)
        except Exception as exc:  # the commit (or an exclusive job) failed: nothing kept
            for job in batch:
                job.outcome = (False, exc)

    @staticmethod
    def _run_group(conn: Connection, fn: BatchQuery[Any, Any], jobs: list[_Job]) -> None:
        """One ``fn`` call for the items of ``jobs``; if it raises, one call per item."""
        outcome = _in_savepoint(conn, _call_batch, fn, [job.args[0] for job in jobs])
        if outcome[0]:
            for job, value in zip(jobs, outcome[1], strict=True):
                job.outcome = (True, value)
        elif len(jobs) == 1:
            jobs[0].outcome = outcome
        else:
            for job in jobs:
                ok, value = _in_savepoint(conn, _call_batch, fn, [job.args[0]])
                job.outcome = (True, value[0]) if ok else (False, value)

    async def close(self) -> None:
        self._hand_over()  # jobs submitted just now still run
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._writer.join)
        self._readers.shutdown(wait=True)
        self.engine.dispose()


def _in_savepoint(
    conn: Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[bool, Any]:
    """``fn(conn, ...)`` in a savepoint of the writer's transaction: ``(True, value)``,
    or ``(False, exception)`` with everything it wrote rolled back."""
    # Plain SQL with one fixed name: SQLAlchemy's begin_nested() compiles a new
    # "sa_savepoint_N" each time (uncached) and cost 35 µs a job against 9 µs for
    # this (bench/inbox.py); savepoints never overlap in the writer.
    conn.exec_driver_sql("SAVEPOINT job")
    try:
        value = fn(conn, *args, **kwargs)
    except Exception as exc:  # handed to the caller, who decides
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT job")
        conn.exec_driver_sql("RELEASE SAVEPOINT job")
        return (False, exc)
    conn.exec_driver_sql("RELEASE SAVEPOINT job")
    return (True, value)


def _call_batch(conn: Connection, fn: BatchQuery[Item, T], items: list[Item]) -> list[T]:
    results = fn(conn, items)
    if len(results) != len(items):
        raise ValueError(f"{fn.__qualname__} returned {len(results)} results for {len(items)}")
    return results


@dataclass(slots=True)
class _Batcher:
    """Items waiting for one batch function on PostgreSQL, and its flushers."""

    pending: list[tuple[Any, asyncio.Future[Any]]] = field(default_factory=list)
    flushers: set[asyncio.Task[None]] = field(default_factory=set)
    #: The keys of the items in statements now running (`Database.fetch_batched`).
    busy: set[Hashable] = field(default_factory=set)


def _independent(
    batch: StatementBatch[Any], pending: list[Any], busy: set[Hashable]
) -> tuple[list[Any], set[Hashable]]:
    """Take from ``pending``, in order, up to `_MAX_BATCH` entries with no key in common
    and none ``busy`` (in a statement now running: it would wait on that statement's
    row locks until it commits); the others stay, in their order, for the next
    statement. The entries taken, and their keys."""
    taken: list[Any] = []
    left: list[Any] = []
    seen: set[Hashable] = set()
    for entry in pending:
        keys = set(batch.keys(entry[0]))
        if len(taken) < _MAX_BATCH and seen.isdisjoint(keys) and busy.isdisjoint(keys):
            taken.append(entry)
            seen |= keys
        else:
            left.append(entry)
    pending[:] = left
    return taken, seen


async def _run_entries(
    entries: list[tuple[Any, asyncio.Future[Any]]],
    run: Callable[[list[Any]], Awaitable[list[Any]]],
) -> None:
    """Settle each entry with its result of ``run(items)``, one per item in order; if
    that raises for several, run each alone, to give each its own outcome."""
    try:
        results = await run([item for item, _ in entries])
    except Exception as exc:  # each item alone, to give each its own outcome
        if len(entries) == 1:
            _settle(entries[0][1], False, exc)
            return
        for item, future in entries:
            try:
                [value] = await run([item])
            except Exception as alone:  # this item's outcome, for its caller
                _settle(future, False, alone)
            else:
                _settle(future, True, value)
        return
    for (_, future), value in zip(entries, results, strict=True):
        _settle(future, True, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():  # its request went away; the item is written all the same
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


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
        self._server_settings = server_settings
        self._statement_pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        # Twenty connections kept, none beyond: with ten kept and ten more "overflow",
        # 32 concurrent payments kept closing and opening connections (each new one
        # costs a connect and SQLAlchemy's set-up queries): 440 against 1,080 payments/s,
        # 460 against 190 µs of client CPU each (bench/ledger.py, one-statement path).
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=20, max_overflow=0, connect_args=connect_args
        )
        #: Per batch function (`write_batched`) or statement (`fetch_batched`).
        self._batchers: dict[object, _Batcher] = {}
        # The statement connections connect as the engine's do: SQLAlchemy reads the
        # URL (its query holds driver options such as ``ssl``, and options of its own,
        # which asyncpg would send to the server as settings and be refused for).
        _, self._connect_kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        for name in _SQLALCHEMY_ONLY_OPTIONS:
            self._connect_kwargs.pop(name, None)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def attempt() -> T:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn, *args, **kwargs)

        return await _retried(attempt)

    exclusive = write

    async def _statement_connections(self) -> asyncpg.Pool:
        """The connections `fetch_batched` runs on, opened on first use: one per flusher,
        outside SQLAlchemy's pool, with ``plan_cache_mode = force_generic_plan`` and
        ``enable_seqscan = off``.

        A batch statement takes arrays; PostgreSQL plans it again on every call (1 ms
        for the ledger's, measured) because a generic plan's estimate for an array of
        unknown length looks dearer than a plan made for the array at hand. The plan is
        the same whatever the arrays hold (index lookups by key), so one generic plan
        serves: 2 × the payments/s at concurrency 1 (bench/ledger.py). A batch statement
        finds its rows by key, so it never wants a sequential scan; but a plan made while
        a table is small picks one (of the accounts, to update them), and keeps it as
        the table grows: 5,100 against 10,400 payments/s on a fresh ledger of 1,000
        members. Hence the second setting, on these connections only.
        """
        async with self._pool_lock:
            if self._statement_pool is None:
                import asyncpg

                settings = {
                    **self._server_settings,
                    "plan_cache_mode": "force_generic_plan",
                    "enable_seqscan": "off",
                }
                self._statement_pool = await asyncpg.create_pool(
                    **self._connect_kwargs,
                    min_size=0,
                    max_size=_PG_STATEMENT_FLUSHERS,
                    server_settings=settings,
                    reset=_keep_session,
                )
            return self._statement_pool

    async def write_batched(self, fn: BatchQuery[Item, T], item: Item) -> T:
        return await self._enqueue(fn, item, self._flush, _PG_FLUSHERS)  # type: ignore[no-any-return]

    async def fetch_batched(self, batch: StatementBatch[Item], item: Item) -> tuple[Any, ...]:
        return await self._enqueue(  # type: ignore[no-any-return]
            batch, item, self._flush_statements, _PG_STATEMENT_FLUSHERS
        )

    async def _enqueue(
        self,
        key: Any,
        item: Any,
        flush: Callable[[Any, _Batcher], Coroutine[Any, Any, None]],
        flushers: int,
    ) -> Any:
        """``item``'s result, once a flusher (``flush(key, batcher)``) has written it."""
        batcher = self._batchers.setdefault(key, _Batcher())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        batcher.pending.append((item, future))
        # Count the flushers still running only: one that has returned stays in the
        # set until its done callback runs, after the callers it woke, and an item one
        # of them submits meanwhile would wait with no flusher to write it.
        if sum(not task.done() for task in batcher.flushers) < flushers:
            task = asyncio.create_task(flush(key, batcher))
            batcher.flushers.add(task)
            task.add_done_callback(batcher.flushers.discard)
        return await future

    async def _flush(self, fn: BatchQuery[Any, Any], batcher: _Batcher) -> None:
        """Write what is pending, a transaction per batch, until nothing is left."""
        await asyncio.sleep(0)  # items submitted in this loop iteration come along
        while batcher.pending:
            entries = batcher.pending[:_MAX_BATCH]
            del batcher.pending[:_MAX_BATCH]
            await _run_entries(entries, lambda items: self.write(_call_batch, fn, items))

    async def _flush_statements(self, batch: StatementBatch[Any], batcher: _Batcher) -> None:
        """Run the statement for what is pending, items with no key in common each
        time, until nothing is left, or all that is left waits for a statement now
        running (whose flusher takes it next)."""
        await asyncio.sleep(0)  # items submitted in this loop iteration come along
        while batcher.pending:
            entries, keys = _independent(batch, batcher.pending, batcher.busy)
            if not entries:
                return
            batcher.busy |= keys
            try:
                await _run_entries(entries, lambda items: self._fetch_rows(batch, items))
            finally:
                batcher.busy -= keys

    async def _fetch_rows(
        self, batch: StatementBatch[Any], items: list[Any]
    ) -> list[tuple[Any, ...]]:
        pool = await self._statement_connections()
        sql, args = batch.sql, batch.arguments(items)

        async def attempt() -> list[tuple[Any, ...]]:
            async with pool.acquire() as conn:
                return [tuple(row) for row in await conn.fetch(sql, *args)]

        rows = await _retried(attempt)
        if len(rows) != len(items):
            raise ValueError(f"{len(rows)} rows for {len(items)} items")
        return rows

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await asyncio.gather(*batcher.flushers, return_exceptions=True)
        if self._statement_pool is not None:
            await self._statement_pool.close()
        await self.engine.dispose()


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Nothing to reset between statements that keep no session state (asyncpg's
    default reset costs a round trip per use: half the rate at concurrency 1)."""


async def _retried(attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()``, tried again after serialisation failures and deadlocks."""
    for number in range(1, _MAX_PG_ATTEMPTS + 1):
        try:
            return await attempt()
        except Exception as exc:  # SQLAlchemy's errors, or asyncpg's (`fetch_batched`)
            if number == _MAX_PG_ATTEMPTS or _sqlstate(exc) not in _RETRYABLE_SQLSTATES:
                raise
            await asyncio.sleep(0.002 * number)
    raise AssertionError("unreachable")


def _sqlstate(exc: Exception) -> str | None:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    for name in ("sqlstate", "pgcode"):
        with contextlib.suppress(AttributeError):
            value = getattr(orig, name)
            if isinstance(value, str):
                return value
    cause = getattr(orig, "__cause__", None)
    value = getattr(cause, "sqlstate", None)
    return value if isinstance(value, str) else None
