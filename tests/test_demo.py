"""``fediverse-share demo``: three communities on loopback trading end to end."""

from __future__ import annotations

import contextlib
import re

import pytest

from fediverse_share import cli
from fediverse_share.loopback import bind_loopback


def _free_base_port() -> int:
    """The first of three consecutive loopback ports that are free now."""
    while True:
        with contextlib.ExitStack() as stack:
            first = bind_loopback()
            stack.callback(first.close)
            base = first.getsockname()[1]
            try:
                for port in (base + 1, base + 2):
                    stack.callback(bind_loopback(port).close)
            except OSError:
                continue
            return int(base)


def test_the_demo_swaps_pays_and_prints_matching_positions(capsys) -> None:
    """The demo exits 0 after a swap and payments direct, routed and back, printing each
    ledger summing to zero, the legs, both sides of each link (statements match) and an
    audit with no problems."""
    base = _free_base_port()
    assert cli.main(["demo", "--base-port", str(base)]) == 0
    out = capsys.readouterr().out
    assert f"@riverside@localhost:{base}" in out and f"@market@localhost:{base + 2}" in out
    assert out.count("settled: propose -> proposed") == 2
    assert len(re.findall(r"path riverside -> market -> hilltop, committed", out)) == 1
    assert len(re.findall(r", committed in \d+ ms", out)) == 3
    assert re.search(rf"riverside-market: riverside peer:localhost:{base + 2} = \S+ RIV", out)
    assert re.search(rf"market peer:localhost:{base} = -\S+ MKT", out)
    assert out.count("signed statements of the legs that crossed it: match") == 2
    assert re.findall(r"^    sum +(\S+)$", out, re.MULTILINE) == ["0.00", "0", "0.000"]
    assert out.count(": 0 problems") == 3


def test_the_demo_says_when_its_ports_are_taken(capsys) -> None:
    """A port in use stops the demo before anything starts, with a one-line hint."""
    with contextlib.closing(bind_loopback()) as taken:
        taken.listen()
        assert cli.main(["demo", "--base-port", str(taken.getsockname()[1])]) == 2
    assert "is not free" in capsys.readouterr().err


def test_the_demo_has_help(capsys) -> None:
    """``demo --help`` answers like every sub-command, naming --base-port."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["demo", "--help"])
    assert exited.value.code == 0 and "--base-port" in capsys.readouterr().out
