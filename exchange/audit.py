"""The ledger audit: every invariant of DESIGN §4, checked from the stored rows.

`audit` returns a list of `Problem` (empty when all is well) and never stops at the
first one; each check reports at most ``max_per_check`` problems plus a count of the
rest. Errors are broken rules; warnings are states that are allowed but need a look
(a balance beyond a limit that was lowered after it was reached; holds whose expiry
has passed but that the worker has not released yet).

Checks: (1) the ledger sums to zero, posted and pending; (2) each account's four running
totals equal the sums of its transfers; (3) no balance is beyond its limits (counting
holds) unless a later limit change explains it; (4) each pending transfer has at most
one resolution, which matches it (accounts, amounts, timing); (5) the open-holds index
matches the unresolved pending transfers, and (given ``now_us``) no hold outlives its
expiry; (6) issuance allowances match the co-pays booked; (7) every account's hash
chain verifies (`exchange.chain`), row by row, and ends at the head stored on the
account; (8) every committed clearing leg is booked, and none is left in doubt or
prepared past its expiry (`exchange.clearing_audit`).

Cost: (1)-(6) are aggregate queries; (7) streams the transfers once in insertion order
and keeps one small state per account, so memory grows with accounts, not transfers. On
PostgreSQL it runs in one REPEATABLE READ snapshot when given a fresh connection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from exchange import clearing_audit, tables
from exchange.chain import chain_step, genesis_hash, transfer_digest

_T = tables.transfers
_A = tables.accounts
_H = tables.holds
_POSTS = ("single", "post")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    severity: Severity
    message: str
    account_id: str | None = None
    transfer_id: str | None = None


@dataclass(slots=True)
class _Report:
    warning = Severity.WARNING
    limit: int
    problems: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        code: str,
        message: str,
        *,
        account_id: str | None = None,
        transfer_id: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.counts[code] += 1
        if self.counts[code] <= self.limit:
            self.problems.append(Problem(code, severity, message, account_id, transfer_id))

    def finish(self) -> list[Problem]:
        for code, count in sorted(self.counts.items()):
            if count > self.limit:
                message = f"{count - self.limit} more problems of this kind not listed"
                self.problems.append(Problem(code, Severity.ERROR, message))
        return self.problems


def audit(
    conn: Connection, now_us: int | None = None, *, max_per_check: int = 100
) -> list[Problem]:
    """Check every ledger invariant; returns the problems found (see the module doc)."""
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    report = _Report(max_per_check)
    accounts = {row.id: row for row in conn.execute(select(_A))}
    _check_zero_sum(conn, report)
    _check_totals(conn, accounts, report)
    _check_limits(conn, accounts, report)
    _check_resolutions(conn, report)
    _check_holds(conn, report, now_us)
    _check_allowances(conn, accounts, report)
    _check_chains(conn, accounts, report)
    clearing_audit.check_legs(conn, report, now_us)
    return report.finish()


def _check_zero_sum(conn: Connection, report: _Report) -> None:
    row = conn.execute(
        select(
            func.coalesce(func.sum(_A.c.credits_posted_minor - _A.c.debits_posted_minor), 0),
            func.coalesce(func.sum(_A.c.credits_pending_minor - _A.c.debits_pending_minor), 0),
        )
    ).one()
    if row[0] != 0:
        report.add("not_zero_sum", f"posted balances sum to {row[0]}, not 0")
    if row[1] != 0:
        report.add("not_zero_sum_pending", f"pending balances sum to {row[1]}, not 0")


def _sums(conn: Connection, side: str) -> dict[str, tuple[int, int]]:
    """Per account on one side: (posted amount, number of transfers)."""
    account = _T.c[f"{side}_account_id"]
    posted = func.sum(case((_T.c.phase.in_(_POSTS), _T.c.amount_minor), else_=0))
    rows = conn.execute(select(account, posted, func.count()).group_by(account))
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def _open_holds(conn: Connection, side: str) -> dict[str, int]:
    account = _T.c[f"{side}_account_id"]
    resolution = _T.alias("resolution")
    unresolved = ~exists().where(resolution.c.pending_id == _T.c.id)
    rows = conn.execute(
        select(account, func.sum(_T.c.amount_minor))
        .where(_T.c.phase == "pending", unresolved)
        .group_by(account)
    )
    return {row[0]: int(row[1]) for row in rows}


def _check_totals(conn: Connection, accounts: dict[str, Any], report: _Report) -> None:
    debits, credits = _sums(conn, "debit"), _sums(conn, "credit")
    held_out, held_in = _open_holds(conn, "debit"), _open_holds(conn, "credit")
    for account_id, row in accounts.items():
        expected = {
            "debits_posted_minor": debits.get(account_id, (0, 0))[0],
            "credits_posted_minor": credits.get(account_id, (0, 0))[0],
            "debits_pending_minor": held_out.get(account_id, 0),
            "credits_pending_minor": held_in.get(account_id, 0),
            "seq": debits.get(account_id, (0, 0))[1] + credits.get(account_id, (0, 0))[1],
        }
        for name, value in expected.items():
            if getattr(row, name) != value:
                message = f"{name} is {getattr(row, name)} but its transfers make {value}"
                report.add("totals_mismatch", message, account_id=account_id)


def _check_limits(conn: Connection, accounts: dict[str, Any], report: _Report) -> None:
    for account_id, row in accounts.items():
        balance = row.credits_posted_minor - row.debits_posted_minor
        lower, upper = row.credit_limit_minor, row.upper_limit_minor
        if lower is not None and balance - row.debits_pending_minor < -lower:
            _limit_problem(conn, report, account_id, "debit", "below its credit limit")
        if upper is not None and balance + row.credits_pending_minor > upper:
            _limit_problem(conn, report, account_id, "credit", "above its upper limit")


def _limit_problem(
    conn: Connection, report: _Report, account_id: str, side: str, what: str
) -> None:
    """A balance beyond a limit is a warning if the limit changed after the account last
    moved towards it (the change put it there), and an error otherwise."""
    last_move = conn.execute(
        select(func.max(_T.c.created_at_us)).where(
            _T.c[f"{side}_account_id"] == account_id, _T.c.phase.in_(("single", "pending"))
        )
    ).scalar()
    changes = tables.limit_changes
    last_change = conn.execute(
        select(func.max(changes.c.changed_at_us)).where(changes.c.account_id == account_id)
    ).scalar()
    if last_move is None or (last_change is not None and last_change >= last_move):
        message = f"the account is {what}, which was lowered after it was reached"
        report.add(
            "beyond_changed_limit", message, account_id=account_id, severity=Severity.WARNING
        )
    else:
        report.add("limit_broken", f"the account is {what}", account_id=account_id)


def _check_resolutions(conn: Connection, report: _Report) -> None:
    r, p = _T, _T.alias("pending")
    mismatch = or_(
        p.c.id.is_(None),
        p.c.phase != "pending",
        r.c.phase.not_in(("post", "void", "expire")),
        p.c.debit_account_id != r.c.debit_account_id,
        p.c.credit_account_id != r.c.credit_account_id,
        and_(r.c.phase == "post", r.c.amount_minor > p.c.amount_minor),
        and_(r.c.phase != "post", r.c.amount_minor != p.c.amount_minor),
        and_(r.c.phase != "expire", r.c.created_at_us >= p.c.expires_at_us),
        and_(r.c.phase == "expire", r.c.created_at_us < p.c.expires_at_us),
    )
    query = (
        select(r.c.id, r.c.pending_id)
        .select_from(r.outerjoin(p, p.c.id == r.c.pending_id))
        .where(r.c.pending_id.is_not(None), mismatch)
    )
    for row in conn.execute(query):
        message = f"does not properly resolve pending transfer {row.pending_id!r}"
        report.add("bad_resolution", message, transfer_id=row.id)
    orphans = select(_T.c.id).where(
        or_(
            and_(_T.c.phase.in_(("post", "void", "expire")), _T.c.pending_id.is_(None)),
            and_(_T.c.phase == "pending", _T.c.expires_at_us.is_(None)),
        )
    )
    for transfer_id in conn.execute(orphans).scalars():
        report.add("bad_phase", "phase and pending fields disagree", transfer_id=transfer_id)
    twice = select(_T.c.pending_id).where(_T.c.pending_id.is_not(None))
    twice = twice.group_by(_T.c.pending_id).having(func.count() > 1)
    for pending_id in conn.execute(twice).scalars():
        report.add("resolved_twice", "more than one resolution", transfer_id=pending_id)


def _check_holds(conn: Connection, report: _Report, now_us: int | None) -> None:
    resolved = select(_H.c.pending_id).join(_T, _T.c.pending_id == _H.c.pending_id)
    for pending_id in conn.execute(resolved).scalars():
        report.add("stale_hold", "listed as open but resolved", transfer_id=pending_id)
    p = _T.alias("pending")
    bad = (
        select(_H.c.pending_id)
        .select_from(_H.outerjoin(p, p.c.id == _H.c.pending_id))
        .where(
            or_(p.c.id.is_(None), p.c.phase != "pending", p.c.expires_at_us != _H.c.expires_at_us)
        )
    )
    for pending_id in conn.execute(bad).scalars():
        report.add("bad_hold", "open hold that does not match its transfer", transfer_id=pending_id)
    resolution = _T.alias("resolution")
    missing = select(_T.c.id).where(
        _T.c.phase == "pending",
        ~exists().where(resolution.c.pending_id == _T.c.id),
        ~exists().where(_H.c.pending_id == _T.c.id),
    )
    for pending_id in conn.execute(missing).scalars():
        report.add("missing_hold", "unresolved but not listed as open", transfer_id=pending_id)
    if now_us is not None:
        overdue = select(_H.c.pending_id).where(_H.c.expires_at_us <= now_us)
        for pending_id in conn.execute(overdue).scalars():
            message = "expired but its hold is not released yet (run the expiry worker)"
            report.add("hold_overdue", message, transfer_id=pending_id, severity=Severity.WARNING)


def _check_allowances(conn: Connection, accounts: dict[str, Any], report: _Report) -> None:
    copays = conn.execute(
        select(_T.c.credit_account_id, func.sum(_T.c.amount_minor))
        .where(_T.c.id.startswith("copay:", autoescape=True))
        .group_by(_T.c.credit_account_id)
    )
    used = {row[0]: int(row[1]) for row in copays}
    for account_id, row in accounts.items():
        spent = row.allowance_granted_minor - row.allowance_remaining_minor
        if row.allowance_remaining_minor < 0 or spent != used.get(account_id, 0):
            message = f"allowance used {spent} but co-pays booked {used.get(account_id, 0)}"
            report.add("allowance_mismatch", message, account_id=account_id)


_CHAIN_COLUMNS = (
    _T.c.id, _T.c.phase, _T.c.kind, _T.c.debit_account_id, _T.c.credit_account_id,
    _T.c.amount_minor, _T.c.pending_id, _T.c.expires_at_us, _T.c.created_at_us, _T.c.memo,
    _T.c.reference, _T.c.debit_seq, _T.c.credit_seq, _T.c.debit_balance_minor,
    _T.c.credit_balance_minor, _T.c.debit_hash, _T.c.credit_hash,
)  # fmt: skip


def _check_chains(conn: Connection, accounts: dict[str, Any], report: _Report) -> None:
    """Recompute every account's chain in one pass over the transfers.

    Per account, transfers come in ``seq`` order when read by ``ordinal``: a transfer's
    row is inserted while its accounts are locked, so of two transfers touching the same
    account the later one also gets the later ordinal. After a mismatch the check goes
    on from the stored values, so each edited row is reported once, not all after it.
    """
    heads = {account_id: (0, genesis_hash(account_id), 0) for account_id in accounts}
    rows = conn.execution_options(yield_per=5000).execute(
        select(*_CHAIN_COLUMNS).order_by(_T.c.ordinal)
    )
    for row in rows:
        digest = transfer_digest(*row[:11])
        posted = row.amount_minor if row.phase in _POSTS else 0
        for side, sign in (("debit", -1), ("credit", 1)):
            account_id = row[3] if side == "debit" else row[4]
            seq, stored_balance, stored_hash = (
                (row.debit_seq, row.debit_balance_minor, bytes(row.debit_hash))
                if side == "debit"
                else (row.credit_seq, row.credit_balance_minor, bytes(row.credit_hash))
            )
            last_seq, last_hash, last_balance = heads.get(account_id, (0, b"", 0))
            if seq != last_seq + 1 or stored_balance != last_balance + sign * posted:
                message = f"{side} seq {seq} or balance {stored_balance} out of sequence"
                report.add("chain_sequence", message, account_id=account_id, transfer_id=row.id)
            if chain_step(last_hash, seq, stored_balance, digest) != stored_hash:
                message = f"the {side} hash does not match the transfer and its predecessor"
                report.add("chain_broken", message, account_id=account_id, transfer_id=row.id)
            heads[account_id] = (seq, stored_hash, stored_balance)
    for account_id, row in accounts.items():
        seq, head, balance = heads[account_id]
        if (seq, head) != (row.seq, bytes(row.chain_hash)):
            report.add(
                "chain_head",
                "the account's chain head is not its last transfer's",
                account_id=account_id,
            )
        if balance != row.credits_posted_minor - row.debits_posted_minor:
            report.add(
                "chain_balance",
                "the last running balance is not the account's",
                account_id=account_id,
            )
