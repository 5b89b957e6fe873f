"""A comparable copy of every ledger table, to prove that a refused request left nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from exchange import tables


def ledger_snapshot(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    copy = {}
    for table in tables.metadata.sorted_tables:
        rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
        copy[table.name] = [tuple(row) for row in rows]
    return copy
