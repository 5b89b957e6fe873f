"""The audit's clearing checks: each committed leg is booked, no leg is left in doubt.

Called by `exchange.audit.audit` as check (8): a committed clearing leg whose posted
transfer (``post`` of its hold, or ``single`` when booked late) is missing or carries
another amount is an error; a leg in doubt is a warning (an operator must settle it:
`exchange.in_doubt`), and so is a leg still prepared after its expiry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, exists, select

from exchange import clearing_tables as ct
from exchange import tables

_L = ct.legs
_T = tables.transfers


def check_legs(conn: Connection, report: Any, now_us: int | None) -> None:
    booked = exists().where(
        _T.c.reference == _L.c.ref,
        _T.c.credit_account_id == _L.c.credit_account_id,
        _T.c.phase.in_(("post", "single")),
        _T.c.amount_minor == _L.c.out_minor,
    )
    unbooked = conn.execute(
        select(_L.c.transfer_id).where(_L.c.state == "committed", ~booked).limit(report.limit)
    )
    for transfer_id in unbooked.scalars():
        report.add("clearing_leg_unbooked", f"committed leg of {transfer_id} is not booked")
    doubtful = select(_L.c.transfer_id, _L.c.state).where(
        _L.c.state == "in_doubt"
        if now_us is None
        else (_L.c.state == "in_doubt")
        | and_(_L.c.state == "prepared", _L.c.expires_at_us <= now_us)
    )
    for row in conn.execute(doubtful.limit(report.limit)):
        report.add(
            f"clearing_leg_{row.state}",
            f"leg of {row.transfer_id} is {row.state}: see docs/CLEARING.md",
            severity=report.warning,
        )
