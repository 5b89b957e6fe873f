"""Legs in doubt: a commit this community learned of after its holds had expired.

The downstream community paid (it returned the fulfilment), but this community's
holds were already released, so its own leg was never posted and the link's two sides
disagree; reconciliation then freezes the link (`exchange.reconciliation`). Nothing
decides that automatically. An operator who has checked with the peers books the leg
late with `book_late`: the same transfers the commit would have posted, as single-phase
transfers checked against today's limits, so the leg is committed and both sides of
its links agree again; then the operator resumes the frozen links.
"""

from __future__ import annotations

from sqlalchemy import Connection

from exchange import clearing, peers
from exchange.accounts import FEES
from exchange.booking import TransferKind
from exchange.clearing import Leg, LegState
from exchange.errors import LegNotPrepared
from exchange.settings import get_currency
from exchange.transfers import TransferRequest, create_transfer


def list_in_doubt(conn: Connection) -> list[Leg]:
    return clearing.list_legs(conn, states=(LegState.IN_DOUBT,))


def book_late(conn: Connection, transfer_id: str, now_us: int) -> Leg:
    """Post an in-doubt leg now. Raises `UnknownLeg`, `LegNotPrepared` (not in doubt),
    and the ledger's limit errors (raise the limit first, or settle otherwise)."""
    leg = clearing.get_leg(conn, transfer_id, lock=True)
    if leg.state is LegState.COMMITTED:
        return leg
    if leg.state is not LegState.IN_DOUBT:
        raise LegNotPrepared(transfer_id, leg.state.value)
    code = get_currency(conn).code
    parts = [(f"{leg.ref}:late", leg.credit_account_id, leg.out_minor, TransferKind.CLEARING)]
    if leg.fee_minor:
        parts.append((f"{leg.ref}:fee-late", FEES, leg.fee_minor, TransferKind.FEE))
    for transfer, credit, amount, kind in parts:
        memo = f"{leg.memo} (booked late: committed while in doubt)"[:500]
        request = TransferRequest(
            transfer, leg.debit_account_id, credit, amount, code, kind, memo, reference=leg.ref
        )
        create_transfer(conn, request, now_us)
    if leg.upstream_domain is not None:
        peers.book_residue(conn, leg.upstream_domain, leg.residue, leg.ref, now_us)
    return clearing.set_state(conn, leg, LegState.COMMITTED, now_us)
