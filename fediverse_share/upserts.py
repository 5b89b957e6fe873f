"""INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE) on both engines."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_or_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows that do not clash with a unique key; returns how many went in."""
    if not rows:
        return 0
    return conn.execute(_statement(conn.dialect.name, table), list(rows)).rowcount


@functools.cache
def _statement(dialect_name: str, table: Table) -> Insert:
    # Built once per table and dialect: SQLAlchemy spends more time building a fresh
    # statement and computing its cache key (~20 µs) than running it (bench/inbox.py).
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def insert_or_replace(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row``, or overwrite the other columns of the row with its primary key.

    One statement, where a delete and then an insert would race: on PostgreSQL a
    concurrent writer's delete finds nothing once the first has committed, and its
    insert then breaks the primary key.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(row)
    keys = [column.name for column in table.primary_key]
    changed = {name: statement.excluded[name] for name in row if name not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed))
