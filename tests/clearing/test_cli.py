"""The operator's clearing commands (peer, rates), run in-process by `cli.main` against
communities served on loopback, as an operator runs them beside ``serve``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fediverse_share.cli import main
from fediverse_share.worker import run_until_idle
from tests.clearing.conftest import Community, community


def configure(c: Community, data_dir: Path) -> Path:
    """A data directory whose fediverse-share.toml points at ``c``'s database."""
    s = c.instance.settings
    lines = [
        f'domain = "{s.domain}"',
        f'database_url = "{s.database_url}"',
        f'secret_key = "{s.secret_key}"',
        "allow_http = true",
        "allow_private_addresses = true",
    ]
    if s.database_schema:
        lines.append(f'database_schema = "{s.database_schema}"')
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "fediverse-share.toml").write_text("\n".join(lines) + "\n")
    return data_dir


async def cli(capsys, data_dir: Path, *argv: str) -> tuple[int, str, str]:
    """Run the command in a thread (it has its own event loop) while the instances serve."""
    code = await asyncio.to_thread(main, ["--data-dir", str(data_dir), *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


async def test_operators_peer_post_rates_and_manage_the_link(tmp_path: Path, capsys):
    """peer add on both sides makes an active link; rates set/show, suspend, resume,
    reconcile and remove each do what they say and print it."""
    async with (
        community("a", "alice", tmp_path) as a,
        community("b", "bob", tmp_path) as b,
    ):
        at_a, at_b = configure(a, tmp_path / "cli-a"), configure(b, tmp_path / "cli-b")
        assert (await cli(capsys, at_a, "peer", "list"))[1].startswith("no peers yet")
        code, out, _ = await cli(capsys, at_a, "peer", "add", b.handle(), "--credit-limit", "500")
        assert (code, out.splitlines()[0]) == (0, f"{b.domain}: pending (currency BBB)")
        assert (await cli(capsys, at_b, "peer", "add", a.handle(), "--credit-limit", "300"))[0] == 0
        await run_until_idle(a.runtime, b.runtime)
        code, out, _ = await cli(capsys, at_a, "peer", "list")
        assert out == (
            f"{b.domain} active BBB balance 0.00 credit limit 500.00 upper limit 500.00\n"
        )

        code, out, _ = await cli(
            capsys, at_a, "rates", "set", "bbb", "2", "--fee-bps", "50", "--max-amount", "100"
        )
        assert code == 0
        assert out.startswith("posted BBB-1: 1 BBB = 2 AAA, fee 50 bps, max 100.00 AAA, until ")
        assert (await cli(capsys, at_b, "rates", "set", "AAA", "0.5"))[0] == 0
        await run_until_idle(a.runtime, b.runtime)
        code, out, _ = await cli(capsys, at_a, "rates", "show")
        lines = out.splitlines()
        assert (lines[0], lines[2]) == ("ours:", f"{b.domain}'s for ours:")
        assert lines[1].startswith("  BBB-1: 1 BBB = 2 AAA")
        assert lines[3].startswith("  http") and "1 AAA = 1/2 BBB, fee 0 bps" in lines[3]

        for verb, status in (("suspend", "suspended"), ("resume", "active")):
            assert await cli(capsys, at_a, "peer", verb, b.domain) == (
                0,
                f"{b.domain}: {status}\n",
                "",
            )
            assert (await a.link(b)).status.value == status
            await run_until_idle(a.runtime, b.runtime)  # the worker tells B
        assert (await cli(capsys, at_a, "peer", "list"))[1].endswith("(active by the operator)\n")
        assert await cli(capsys, at_a, "peer", "reconcile", b.domain) == (
            0,
            f"{b.domain}: statements match\n",
            "",
        )
        assert (await cli(capsys, at_a, "peer", "remove", b.domain))[1] == f"{b.domain}: ended\n"
        await run_until_idle(a.runtime, b.runtime)
        assert (await b.link(a)).status.value == "ended"


async def test_clearing_commands_refuse_with_a_message(tmp_path: Path, capsys):
    """Bad input and unknown peers exit 2 with one readable line, never a traceback."""
    async with community("a", "alice", tmp_path) as a:
        at_a = configure(a, tmp_path / "cli-a")
        for argv, words in (
            (["peer", "suspend", "nowhere.example"], "is not a peer of this community"),
            (["peer", "reconcile", "nowhere.example"], "is not a peer of this community"),
            (["peer", "add", "@nobody@127.0.0.1:9", "--credit-limit", "5"], "could not read"),
            (["peer", "add", a.handle(), "--credit-limit", "5"], "does not peer with itself"),
            (["rates", "set", "BBB", "abc"], "a rate is a positive decimal"),
            (["rates", "set", "B_B", "2"], "a currency code is"),
            (["rates", "set", "BBB", "2", "--valid-hours", "0"], "valid for more than 0"),
            (["rates", "set", "BBB", "2", "--max-amount", "1.001"], "at most 2 decimal places"),
            (["rates", "set", "BBB", "2", "--fee-bps", "10000"], "basis points"),
        ):
            code, out, err = await cli(capsys, at_a, *argv)
            assert (code, out) == (2, ""), argv
            assert err.startswith("fediverse-share: ") and words in err, (argv, err)
            assert len(err.splitlines()) == 1
        code, _, err = await cli(capsys, tmp_path / "empty", "peer", "list")
        assert code == 2 and "no domain configured" in err
        with pytest.raises(SystemExit) as exited:
            await cli(capsys, at_a, "peer", "add", "x")
        assert exited.value.code == 2
        assert "--credit-limit" in capsys.readouterr().err
