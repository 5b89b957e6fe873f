"""The transfer hot path's statements, run straight on the DBAPI cursor.

A transfer costs three statements (lock, insert, update). Through ``Connection.execute``
each pays 60-80 µs of SQLAlchemy bookkeeping (cache lookup, parameter processing,
execution context, result wrapping), which on SQLite is most of a transfer's cost. Here
each is compiled once per DBAPI connection for its dialect, from the same Core
statement (so the schema has one source), kept in ``Connection.info``, and executed on
the connection's own cursor, inside the same database transaction. Rows come back as
plain tuples in the statement's column order.

Only statements with plain bind parameters (no ``expanding`` IN lists) belong here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement

_CACHE = "exchange.sql"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled for one dialect, its parameters in positional order."""

    sql: str
    names: tuple[str, ...]  # parameter names in positional order
    fixed: dict[str, Any]  # values of the statement's literal parameters

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(params[n] if n in params else self.fixed[n] for n in self.names)


def compile_positional(dialect: Dialect, statement: ClauseElement) -> Prepared:
    """``statement`` as ``dialect``'s driver takes it (also for `exchange.one_statement`)."""
    compiled: Any = statement.compile(dialect=dialect)  # an SQLCompiler
    names = tuple(compiled.positiontup or ())
    fixed = {n: compiled.binds[n].value for n in names if compiled.binds[n].value is not None}
    return Prepared(str(compiled), names, fixed)


def _prepare(conn: Connection, statement: ClauseElement) -> Prepared:
    cache: dict[ClauseElement, Prepared] = conn.info.setdefault(_CACHE, {})
    prepared = cache.get(statement)
    if prepared is None:
        prepared = cache[statement] = compile_positional(conn.dialect, statement)
    return prepared


def fetch_all(
    conn: Connection, statement: ClauseElement, params: Mapping[str, Any]
) -> Sequence[tuple[Any, ...]]:
    """Execute and return every row (an empty list for a statement without rows)."""
    prepared = _prepare(conn, statement)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(prepared.sql, prepared.arguments(params))
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def execute_many(
    conn: Connection, statement: ClauseElement, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Execute once per parameter set (one round trip on PostgreSQL, pipelined)."""
    prepared = _prepare(conn, statement)
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(prepared.sql, [prepared.arguments(row) for row in rows])
    finally:
        cursor.close()
