"""Bulk-load valid ledger transfers for the audit bench (bench/ledger.py).

Going through `create_transfer` would take minutes for a million transfers, so this
writes the rows the domain layer would have written, hash chains and running balances
included (computed with `exchange.chain` exactly as `exchange.booking` does), with
``executemany`` on SQLite and ``COPY`` on PostgreSQL, then the accounts' final totals
and chain heads. One transfer in 50 is a pending transfer immediately followed by its
post, so the audit's two-phase checks have work too. The audit then finds nothing.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import asyncpg
from common import asyncpg_dsn
from sqlalchemy import Connection, insert, select

from exchange import tables
from exchange.chain import chain_step, genesis_hash, transfer_digest
from fediverse_share.database import Database

T0 = 1_700_000_000_000_000
CHUNK = 50_000
COLUMNS = (
    "id", "phase", "kind", "debit_account_id", "credit_account_id", "amount_minor",
    "pending_id", "expires_at_us", "created_at_us", "memo", "reference", "debit_seq",
    "credit_seq", "debit_balance_minor", "credit_balance_minor", "debit_hash", "credit_hash",
)  # fmt: skip


class Heads:
    """Per account: [seq, chain hash, debits posted, credits posted]."""

    def __init__(self, ids: list[str]) -> None:
        self.state = {i: [0, genesis_hash(i), 0, 0] for i in ids}

    def step(self, account_id: str, debit: bool, posted: int, digest: bytes) -> tuple[Any, ...]:
        head = self.state[account_id]
        head[2 if debit else 3] += posted
        head[0] += 1
        balance = head[3] - head[2]
        head[1] = chain_step(head[1], head[0], balance, digest)
        return head[0], balance, head[1]


def _row(heads: Heads, fields: tuple[Any, ...], posted: int) -> tuple[Any, ...]:
    digest = transfer_digest(*fields)
    d_seq, d_balance, d_hash = heads.step(fields[3], True, posted, digest)
    c_seq, c_balance, c_hash = heads.step(fields[4], False, posted, digest)
    return (*fields, d_seq, c_seq, d_balance, c_balance, d_hash, c_hash)


def generate(heads: Heads, count: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """``count`` transfers between random accounts, as ``COLUMNS`` tuples, in order."""
    pick = random.Random(seed)
    ids = list(heads.state)
    i = 0
    while i < count:
        debit, credit = pick.sample(ids, 2)
        at = T0 + i
        if i % 50 == 49 and i + 1 < count:
            pending = (
                f"h{i}",
                "pending",
                "payment",
                debit,
                credit,
                5,
                None,
                at + 10**12,
                at,
                "",
                None,
            )
            yield _row(heads, pending, 0)
            post = (f"p{i}", "post", "payment", debit, credit, 5, f"h{i}", None, at + 1, "", None)
            yield _row(heads, post, 5)
            i += 2
            continue
        yield _row(
            heads, (f"t{i}", "single", "payment", debit, credit, 3, None, None, at, "", None), 3
        )
        i += 1


def _account_updates(heads: Heads) -> list[tuple[Any, ...]]:
    return [(s[2], s[3], s[0], s[1], i) for i, s in heads.state.items()]


def _load_sqlite(path: str, heads: Heads, count: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    marks = ", ".join("?" * len(COLUMNS))
    insert = f"INSERT INTO ledger_transfers ({', '.join(COLUMNS)}) VALUES ({marks})"
    rows = generate(heads, count)
    while chunk := list(itertools.islice(rows, CHUNK)):
        conn.executemany(insert, chunk)
    conn.executemany(
        "UPDATE ledger_accounts SET debits_posted_minor = ?, credits_posted_minor = ?, "
        "seq = ?, chain_hash = ? WHERE id = ?",
        _account_updates(heads),
    )
    conn.execute("COMMIT")
    conn.close()


async def _load_postgres(url: str, schema: str, heads: Heads, count: int) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url), server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            rows = generate(heads, count)
            while chunk := list(itertools.islice(rows, CHUNK)):
                await conn.copy_records_to_table("ledger_transfers", records=chunk, columns=COLUMNS)
            await conn.executemany(
                "UPDATE ledger_accounts SET debits_posted_minor = $1, credits_posted_minor = $2, "
                "seq = $3, chain_hash = $4 WHERE id = $5",
                _account_updates(heads),
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _open_all(conn: Connection, ids: list[str]) -> None:
    """Member accounts as `open_member_account` makes them, in two statements."""
    settled_to = conn.execute(select(tables.accounts.c.demurrage_settled_to_us)).scalar()
    rows = [
        {
            "id": account_id,
            "kind": "member",
            "credit_limit_minor": None,
            "upper_limit_minor": None,
            "soft_limit_minor": None,
            "debits_posted_minor": 0,
            "credits_posted_minor": 0,
            "debits_pending_minor": 0,
            "credits_pending_minor": 0,
            "seq": 0,
            "chain_hash": genesis_hash(account_id),
            "allowance_granted_minor": 0,
            "allowance_remaining_minor": 0,
            "demurrage_settled_to_us": settled_to,
            "opened_at_us": T0,
        }
        for account_id in ids
    ]
    conn.execute(insert(tables.accounts), rows)
    changes = [{"account_id": i, "changed_at_us": T0} for i in ids]
    conn.execute(insert(tables.limit_changes), changes)


async def load_transfers(
    db: Database, url: str, schema: str | None, count: int, *, accounts: int
) -> None:
    """Open ``accounts`` members in ``db`` and load ``count`` valid transfers between them."""
    ids = [f"a{i:06d}" for i in range(accounts)]
    await db.exclusive(_open_all, ids)
    heads = Heads(ids)
    if schema is None:
        _load_sqlite(url.removeprefix("sqlite:///"), heads, count)
    else:
        await _load_postgres(url, schema, heads, count)
