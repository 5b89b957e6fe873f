"""The ledger commands: ``ledger audit``, ``ledger export``, ``demurrage run``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Connection

from exchange import audit, demurrage, export
from fediverse_share import cli, standalone
from fediverse_share.clock import now_us
from fediverse_share.errors import BadRequest

Subparsers = Any


def register_ledger(sub: Subparsers) -> None:
    p = sub.add_parser("ledger", help="check and export the community ledger")
    actions = p.add_subparsers(title="ledger commands", metavar="ACTION")
    check = actions.add_parser("audit", help="check every ledger invariant; exit 1 on problems")
    check.set_defaults(handler=_audit)
    out = actions.add_parser("export", help="write the ledger (or one statement) as CSV")
    out.add_argument("--account", help="a member's statement instead of the whole ledger")
    out.add_argument("--output", "-o", help="file to write (default: standard output)")
    out.set_defaults(handler=_export)


def _audit(args: argparse.Namespace) -> int:
    async def run() -> int:
        async with standalone.runtime(cli.load_settings(args)) as runtime:
            problems = await runtime.db.read(audit.audit, now_us())
        errors = [p for p in problems if p.severity is audit.Severity.ERROR]
        for problem in problems:
            where = " ".join(
                f"{k}={v}"
                for k, v in (("account", problem.account_id), ("transfer", problem.transfer_id))
                if v
            )
            print(f"{problem.severity.value}: {problem.code}: {problem.message} {where}".rstrip())
        print(f"ledger audit: {len(errors)} problems, {len(problems) - len(errors)} warnings")
        return 1 if errors else 0

    return cli.run(run())


def _write_csv(conn: Connection, account: str | None, output: str | None) -> int:
    with contextlib.ExitStack() as stack:
        out: TextIO = sys.stdout
        if output:
            out = stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
        if account:
            return export.write_statement_csv(conn, account, out)
        return export.write_ledger_csv(conn, out)


def _export(args: argparse.Namespace) -> int:
    async def run() -> int:
        async with standalone.runtime(cli.load_settings(args)) as runtime:
            count = await runtime.db.read(_write_csv, args.account, args.output)
        print(f"exported {count} rows", file=sys.stderr)
        return 0

    return cli.run(run())


def register_demurrage(sub: Subparsers) -> None:
    p = sub.add_parser("demurrage", help="apply demurrage")
    actions = p.add_subparsers(title="demurrage commands", metavar="ACTION")
    run = actions.add_parser("run", help="charge the periods due (idempotent)")
    run.add_argument("--as-of", help="a date (YYYY-MM-DD) or ISO instant; default now")
    run.set_defaults(handler=_demurrage_run)


def parse_as_of(text: str | None) -> int:
    if not text:
        return now_us()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"--as-of must be a date like 2026-11-30, got {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _demurrage_run(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of)

    async def run() -> int:
        settled = charged = 0
        async with standalone.runtime(cli.load_settings(args)) as runtime:
            while True:
                batch = await runtime.db.write(demurrage.run_demurrage, as_of)
                settled += batch.accounts_settled
                charged += len(batch.transfers)
                if not batch.more:
                    break
        print(f"demurrage: {settled} accounts settled, {charged} charges booked")
        return 0

    return cli.run(run())
