"""The fediverse-share command, run as an operator runs it (a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fediverse_share.cli import main
from tests.conftest import TEST_DATABASE_URL
from tests.support.databases import fresh_database_url


def _cli(
    data_dir: Path, env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fediverse_share", "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


async def test_init_user_audit_demurrage_export(tmp_path: Path) -> None:
    """init, user add, ledger audit, demurrage run and export work end to end."""
    async with fresh_database_url(TEST_DATABASE_URL, tmp_path) as (url, schema):
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_SHARE_")}
        if schema:
            env["FEDIVERSE_SHARE_DATABASE_SCHEMA"] = schema
        data = tmp_path / "data"
        init = ["init", "--domain", "share.test", "--community", "block7", "--currency", "BLK"]
        if TEST_DATABASE_URL:
            init += ["--database-url", url]
        done = _cli(data, env, *init)
        assert done.returncode == 0, done.stderr
        assert "@block7@share.test" in done.stdout
        again = _cli(data, env, *init)
        assert again.returncode == 0 and "up to date" in again.stdout

        added = _cli(data, env, "user", "add", "alice", "--password-stdin", stdin="pw-alice\n")
        assert added.returncode == 0, added.stderr
        taken = _cli(data, env, "user", "add", "alice", "--password-stdin", stdin="x\n")
        assert taken.returncode == 2 and "taken" in taken.stderr
        reserved = _cli(data, env, "user", "add", "issuance", "--password-stdin", stdin="x\n")
        assert reserved.returncode == 2

        audit = _cli(data, env, "ledger", "audit")
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert "0 problems" in audit.stdout
        run = _cli(data, env, "demurrage", "run", "--as-of", "2030-01-01")
        assert run.returncode == 0, run.stderr
        exported = _cli(data, env, "ledger", "export", "--account", "alice")
        assert exported.returncode == 0 and exported.stdout.splitlines()[0].count(",") >= 3


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    """The command answers --help as a real process, and so does each sub-command
    (in this process: one interpreter start per sub-command cost minutes in CI)."""
    done = subprocess.run(
        [sys.executable, "-m", "fediverse_share", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "usage:" in done.stdout
    for command in (
        ["init"],
        ["serve"],
        ["worker"],
        ["user", "add"],
        ["ledger", "audit"],
        ["ledger", "export"],
        ["demurrage", "run"],
        *(["peer", verb] for verb in ("add", "list", "suspend", "resume", "remove", "reconcile")),
        ["rates", "set"],
        ["rates", "show"],
    ):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0, command
        assert "usage:" in capsys.readouterr().out, command
