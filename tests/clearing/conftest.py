"""Three real communities on loopback with different currencies and scales, linked
A - C - B: A and B are not peers, so payments between them go through C."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.types import ASGIApp

from exchange import accounts, audit, peers
from exchange.accounts import Account
from fediverse_share import members
from fediverse_share.clearing import peering
from fediverse_share.members import Member
from fediverse_share.settings import Settings
from fediverse_share.worker import run_until_idle
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, prepared_instance, serving

#: Each community's currency code and scale: three different scales on purpose.
CURRENCIES = {"a": ("AAA", 2), "b": ("BBB", 0), "c": ("CCC", 3), "d": ("DDD", 2)}
#: Short holds, so that tests can let them expire: the payer's lasts 3 s, each next
#: community's 1 s less.
QUICK = {"clearing_hold_seconds": 3.0, "clearing_hop_margin_seconds": 1.0}


@dataclass(slots=True)
class Community:
    """A community served on loopback that a test can stop and start again."""

    name: str
    settings: Settings
    member: Member
    instance: Instance
    serving: contextlib.AsyncExitStack

    async def stop(self) -> None:
        await self.serving.aclose()

    async def start(self, wrap: Callable[[ASGIApp], ASGIApp] | None = None, **changes: Any) -> None:
        """Serve again (on the same port and database), with changed settings if any,
        behind ``wrap`` if given (see `serving`)."""
        self.settings = dataclasses.replace(self.settings, **changes)
        self.serving = contextlib.AsyncExitStack()
        self.instance = await self.serving.enter_async_context(
            serving(self.name, self.settings, wrap)
        )

    @property
    def runtime(self):
        return self.instance.runtime

    @property
    def domain(self) -> str:
        return self.instance.domain

    def handle(self) -> str:
        return f"@{self.runtime.instance.community_username}@{self.domain}"

    async def account(self, account_id: str) -> Account:
        return await self.runtime.db.read(accounts.get_account, account_id)

    async def peer_account(self, other: Community) -> Account:
        return await self.account(accounts.peer_account_id(other.domain))

    async def audit(self) -> list[audit.Problem]:
        return await self.runtime.db.read(audit.audit)

    async def link(self, other: Community) -> peers.Link:
        return await self.runtime.db.read(peers.get_link, other.domain)


@contextlib.asynccontextmanager
async def community(
    name: str, member: str, tmp_path: Path, **changes: Any
) -> AsyncIterator[Community]:
    code, scale = CURRENCIES[name]
    async with prepared_instance(
        name, tmp_path, TEST_DATABASE_URL, currency=code, scale=scale
    ) as settings:
        settings = dataclasses.replace(settings, **changes)
        stack = contextlib.AsyncExitStack()
        instance = await stack.enter_async_context(serving(name, settings))
        added = await members.add_member(instance.runtime, member, None)
        c = Community(name, settings, added, instance, stack)
        try:
            yield c
        finally:
            await c.stop()


async def link(x: Community, y: Community, limit_x: str, limit_y: str) -> None:
    """Both operators peer their communities, each with its own credit limit."""
    await peering.add_peer(x.runtime, y.handle(), limit_x)
    await peering.add_peer(y.runtime, x.handle(), limit_y)
    await run_until_idle(x.runtime, y.runtime)


async def post_rate(c: Community, peer_currency: str, rate: str, fee_bps: int = 0) -> None:
    await c.runtime.db.write(
        peering.post_rate, c.runtime, peer_currency, rate, fee_bps=fee_bps, valid_hours=24
    )


@contextlib.asynccontextmanager
async def three_linked(
    tmp_path: Path, **changes: Any
) -> AsyncIterator[tuple[Community, Community, Community]]:
    async with (
        community("a", "alice", tmp_path, **changes) as a,
        community("b", "bob", tmp_path, **changes) as b,
        community("c", "carol", tmp_path, **changes) as c,
    ):
        await link(a, c, "1000", "1000")
        await link(c, b, "1000", "1000")
        await post_rate(c, "AAA", "2")  # C gives 2 CCC for 1 AAA
        await post_rate(a, "CCC", "1/2")
        await post_rate(b, "CCC", "3/2", fee_bps=100)  # B gives 1.5 BBB for 1 CCC, 1 % fee
        await post_rate(c, "BBB", "2/3")
        await run_until_idle(a.runtime, b.runtime, c.runtime)
        yield a, b, c


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[tuple[Community, Community, Community]]:
    """A (alice, AAA scale 2), B (bob, BBB scale 0), C (carol, CCC scale 3); A-C and
    C-B peered with limits of 1,000 units; every community posts rates for its peers."""
    async with three_linked(tmp_path) as communities:
        yield communities


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[tuple[Community, Community, Community]]:
    """The same three communities with holds of a few seconds (`QUICK`)."""
    async with three_linked(tmp_path, **QUICK) as communities:
        yield communities
