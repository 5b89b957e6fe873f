"""Reconciliation: statements of what crossed a link, compared by both sides.

Both sides of a link record, for every committed leg that crossed it, the same pair of
amounts: what the sending side booked (in its units) and what the receiving side booked
(its ``gross``, in its units). A statement is the number of such legs and the SHA-256
of their sorted lines ``transfer id | amount sent | amount received``, so the two
sides compute equal statements exactly when they agree on every leg, without sending
the legs themselves. Statements are numbered per link; each side keeps a running hash
``SHA-256(previous ‖ seq ‖ legs hash)`` of the statements it sent and received.

A statement is only meaningful when no leg on the link is still prepared (its outcome
may be on its way): `statement` returns ``None`` then. A mismatch freezes the link
(`exchange.peers.LinkStatus.FROZEN`) and is kept for an operator; it is never "fixed".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select, update

from exchange import clearing_tables as ct
from exchange import peers
from exchange.clearing import LegState, list_legs
from exchange.peers import LinkStatus


@dataclass(frozen=True, slots=True)
class Statement:
    legs: int
    legs_hash: str


def _lines(conn: Connection, domain: str) -> list[str]:
    lines = []
    for leg in list_legs(conn, states=(LegState.COMMITTED,), domain=domain, limit=10**9):
        if leg.upstream_domain == domain:
            lines.append(f"{leg.transfer_id}|{leg.amount_in_minor}|{leg.gross_minor}")
        if leg.downstream_domain == domain:
            lines.append(f"{leg.transfer_id}|{leg.out_minor}|{leg.downstream_gross_minor}")
    return sorted(lines)


def has_prepared_legs(conn: Connection, domain: str) -> bool:
    legs = ct.legs
    count = conn.execute(
        select(func.count())
        .select_from(legs)
        .where(
            legs.c.state == LegState.PREPARED.value,
            or_(legs.c.upstream_domain == domain, legs.c.downstream_domain == domain),
        )
    ).scalar_one()
    return bool(count)


def statement(conn: Connection, domain: str) -> Statement | None:
    """This side's statement of the link with ``domain``; ``None`` while legs are in flight."""
    peers.get_link(conn, domain)
    if has_prepared_legs(conn, domain):
        return None
    lines = _lines(conn, domain)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return Statement(len(lines), digest)


def _running(previous: str, seq: int, legs_hash: str) -> str:
    return hashlib.sha256(f"{previous}|{seq}|{legs_hash}".encode()).hexdigest()


def record(
    conn: Connection,
    domain: str,
    seq: int,
    direction: str,
    theirs: Statement,
    ours: Statement,
    now_us: int,
) -> bool:
    """Keep a statement exchanged with ``domain`` and compare it with ours; a mismatch
    freezes the link. Returns whether they matched. Replaying a recorded ``seq`` changes
    nothing and returns the recorded outcome."""
    s = ct.statements
    known = conn.execute(
        select(s.c.matched).where(s.c.domain == domain, s.c.direction == direction, s.c.seq == seq)
    ).first()
    if known is not None:
        return bool(known.matched)
    link = peers.get_link(conn, domain, lock=True)
    matched = theirs == ours
    running = _running(link.statement_hash, seq, theirs.legs_hash)
    conn.execute(
        s.insert().values(
            domain=domain,
            seq=seq,
            direction=direction,
            legs=theirs.legs,
            legs_hash=theirs.legs_hash,
            running_hash=running,
            matched=matched,
            created_at_us=now_us,
        )
    )
    conn.execute(
        update(ct.links)
        .where(ct.links.c.domain == domain)
        .values(statement_seq=max(seq, link.statement_seq), statement_hash=running)
    )
    if not matched and link.status in (LinkStatus.ACTIVE, LinkStatus.SUSPENDED):
        note = f"statement {seq}: they count {theirs.legs} legs, we count {ours.legs}"
        peers.set_status(conn, domain, LinkStatus.FROZEN, now_us, note=note)
    return matched


def next_seq(conn: Connection, domain: str) -> int:
    return peers.get_link(conn, domain).statement_seq + 1
