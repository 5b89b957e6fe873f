"""A community's process killed at a step of the settlement protocol (a real process
that ends at a failpoint, as if killed) and started again: the transfer then commits on
every hop, and the ledgers and links agree."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from exchange import clearing
from exchange.clearing import LegState
from fediverse_share.clearing import payments, reconcile, recovery
from fediverse_share.clock import now_us
from tests.clearing.conftest import Community
from tests.support.tokens import sign_up

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 30.0


def _environment(c: Community, failpoints: str) -> dict[str, str]:
    s = c.settings
    values = {
        "DOMAIN": s.domain,
        "DATA_DIR": str(s.data_dir),
        "DATABASE_URL": s.database_url,
        "SECRET_KEY": s.secret_key,
        "ALLOW_HTTP": "true",
        "ALLOW_PRIVATE_ADDRESSES": "true",
        "FAILPOINTS": failpoints,
        "DATABASE_SCHEMA": s.database_schema or "",
    }
    if not s.database_schema:
        del values["DATABASE_SCHEMA"]
    return {**os.environ, **{f"FEDIVERSE_SHARE_{k}": v for k, v in values.items()}}


@contextlib.asynccontextmanager
async def as_process(
    c: Community, failpoints: str = ""
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Serve ``c`` from its own ``fediverse-share serve`` process (with its worker)."""
    port = c.settings.domain.rsplit(":", 1)[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fediverse_share",
        "--data-dir",
        str(c.settings.data_dir),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        env=_environment(c, failpoints),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _until_serving(c.instance.base_url + "/clearing", process)
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def _until_serving(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the process ended with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {STARTUP_SECONDS} s")


async def _states(transfer_id: str, *communities: Community) -> list[LegState | None]:
    found = []
    for c in communities:
        leg = await c.runtime.db.read(clearing.find_leg, transfer_id)
        found.append(None if leg is None else leg.state)
    return found


@pytest.mark.parametrize(
    ("who", "step"),
    [("b", "payee_committed"), ("c", "hop_prepared"), ("c", "hop_committed")],
)
async def test_a_process_killed_at_a_step_recovers(linked, who: str, step: str):
    """Kill B or C at the step, restart it: A's payment to B commits on all three."""
    a, b, c = linked
    victim = {"b": b, "c": c}[who]
    quote = await payments.quote(a.runtime, a.member, "bob", b.domain, "9", "BBB")
    await victim.stop()
    async with as_process(victim, f"{step}=exit") as process:
        paid = await payments.pay(a.runtime, a.member, quote.quote_id, "k")
        assert paid.state == "pending"
        assert await asyncio.wait_for(process.wait(), 10) == 75  # it died at the failpoint
    async with as_process(victim):
        for _ in range(3):
            for community in (c, a):
                if community is not victim:
                    await recovery.resolve_stalled(community.runtime, now_us())
    await victim.start()
    await recovery.resolve_stalled(a.runtime, now_us())
    assert await _states(quote.transfer_id, a, c, b) == [LegState.COMMITTED] * 3
    for community in (a, b, c):
        assert await community.audit() == []
    for x, y in ((a, c), (c, b)):
        assert await reconcile.reconcile_link(x.runtime, y.domain) is True


async def test_the_payers_process_killed_after_holding_finishes_the_payment_on_restart(linked):
    """A's process ends right after holding Alice's leg, before sending it: started
    again, its own worker sends it on and the payment commits everywhere."""
    a, b, c = linked
    api = a.instance.base_url + "/api/exchange/v1"
    async with httpx.AsyncClient(base_url=a.instance.base_url, timeout=30) as http:
        dora = await sign_up(a.instance, http, "dora")
    want = {"to": f"acct:bob@{b.domain}", "amount": "9", "currency": "BBB"}
    await a.stop()
    async with httpx.AsyncClient(timeout=30) as http:
        async with as_process(a, "payer_prepared=exit") as process:
            quote = (
                await http.post(f"{api}/payments/quote", json=want, headers=dora.headers)
            ).json()
            with pytest.raises(httpx.HTTPError):
                await http.post(
                    f"{api}/payments",
                    json={**want, "quote_id": quote["id"]},
                    headers={**dora.headers, "Idempotency-Key": "k"},
                )
            assert await asyncio.wait_for(process.wait(), 10) == 75
        async with as_process(a):
            state = await _until_settled(http, f"{api}/payments/{quote['id']}", dora.headers)
    assert state == "committed"
    await a.start()
    transfer_id = (await a.runtime.db.read(payments.find_quote, quote["id"])).transfer_id
    assert await _states(transfer_id, a, c, b) == [LegState.COMMITTED] * 3
    for community in (a, b, c):
        assert await community.audit() == []


async def _until_settled(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
    """The payment's state once it is no longer pending (its worker finishes it)."""
    deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        state = str((await http.get(url, headers=headers)).json()["state"])
        if state != "pending":
            return state
        await asyncio.sleep(0.2)
    return "pending"
