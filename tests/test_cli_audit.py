"""``fediverse-share ledger audit`` on a ledger someone edited behind its back."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, text

from exchange.transfers import TransferRequest, create_transfer
from fediverse_share import members, standalone
from fediverse_share.clock import now_us
from fediverse_share.settings import Settings
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import prepared_instance
from tests.test_cli import _cli


def _environment(settings: Settings) -> dict[str, str]:
    """The process environment an operator would give the command for this instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_SHARE_")}
    env["FEDIVERSE_SHARE_DOMAIN"] = settings.domain
    env["FEDIVERSE_SHARE_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["FEDIVERSE_SHARE_DATABASE_SCHEMA"] = settings.database_schema
    return env


def _pay(conn: Connection) -> None:
    at = now_us()
    for number, (payer, payee, amount) in enumerate([("alice", "bob", 700), ("bob", "alice", 50)]):
        create_transfer(conn, TransferRequest(f"pay-{number}", payer, payee, amount, "AX"), at)


def _forge_amount(conn: Connection) -> None:
    # The point of the test: a row changed with plain SQL, as an intruder with database
    # access (or a careless operator) would, bypassing the ledger's code.
    conn.execute(text("UPDATE ledger_transfers SET amount_minor = 7000 WHERE id = 'pay-0'"))


def _problems(stdout: str) -> list[tuple[str, str, str | None, str | None]]:
    """(severity, code, account, transfer) of each problem line the audit printed."""
    rows = []
    for line in stdout.splitlines()[:-1]:
        severity, code, _ = line.split(": ", 2)
        where = dict(part.split("=", 1) for part in line.split() if "=" in part)
        rows.append((severity, code, where.get("account"), where.get("transfer")))
    return sorted(rows, key=str)


async def test_audit_exits_non_zero_and_lists_the_problems_of_an_edited_transfer(
    tmp_path: Path,
) -> None:
    """After an edited amount, ledger audit exits 1 and names the transfer and its accounts."""
    async with prepared_instance("a", tmp_path, TEST_DATABASE_URL) as settings:
        async with standalone.runtime(settings) as runtime:
            for name in ("alice", "bob"):
                await members.add_member(runtime, name, None)
            await runtime.db.write(_pay)
            env = _environment(settings)
            clean = _cli(settings.data_dir, env, "ledger", "audit")
            assert clean.returncode == 0, clean.stdout + clean.stderr
            assert clean.stdout.splitlines()[-1] == "ledger audit: 0 problems, 0 warnings"
            await runtime.db.write(_forge_amount)

        broken = _cli(settings.data_dir, env, "ledger", "audit")
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert broken.stdout.splitlines()[-1] == "ledger audit: 6 problems, 0 warnings"
        assert _problems(broken.stdout) == sorted(
            [("error", "totals_mismatch", account, None) for account in ("alice", "bob")]
            + [
                ("error", code, account, "pay-0")
                for code in ("chain_sequence", "chain_broken")
                for account in ("alice", "bob")
            ],
            key=str,
        ), broken.stdout
