"""``fediverse-share demo``: three communities trading on loopback (DESIGN §2).

One process serves three real communities with uvicorn on 127.0.0.1 (ports
``--base-port`` to ``--base-port + 2``, 8001-8003 by default), each with its own
SQLite database in a temporary directory that is removed at the end:

* ``riverside`` (RIV, 2 decimals) and ``hilltop`` (HTP, whole units) are not peers;
* ``market`` (MKT, 3 decimals) peers with both, so it carries payments between them.

Each has two members, who publish listings. Both operators of each link consent
(`fediverse_share.clearing.peering.add_peer` on either side) and every community
posts rates for its peers' currencies. Then a member of hilltop swaps with a member of
riverside on a listing (FEP-0837: Offer, Accept, deliver and confirm on both sides),
and members pay across the links: riverside to market (direct), riverside to hilltop
(through market) and back. The ledgers, the clearing legs, the link positions with
the reconciliation statements, and the audit are printed (`fediverse_share.demo_report`).

Everything goes through the functions the exchange API, the CLI and the federation
tests use; nothing writes rows of its own. Background work (deliveries, inbox,
routes) is driven by `fediverse_share.worker.run_until_idle`. The building blocks
(`initialise`, `running`, `connect`, `pay`) also serve ``bench/clearing.py``.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from exchange.money import Currency
from exchange.trade_store import find_trade_by_agreement
from exchange.trade_terms import Trade
from fediverse_share import cli, demo_report, ledger, members, setup
from fediverse_share.app import create_app
from fediverse_share.clearing import payments, peering, reconcile
from fediverse_share.clearing.payments import CrossPayment, Quote
from fediverse_share.errors import AppError, ConfigError
from fediverse_share.federation import actions
from fediverse_share.listings import store
from fediverse_share.listings.model import Draft, Kind, Listing, Purpose
from fediverse_share.loopback import bind_loopback, serve_app
from fediverse_share.members import Member
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings
from fediverse_share.trades import negotiation, steps
from fediverse_share.worker import run_until_idle

DEFAULT_BASE_PORT = 8001


@dataclass(frozen=True, slots=True)
class Plan:
    """One community to start: its username, display name, currency and members."""

    username: str
    display_name: str
    currency: Currency
    members: tuple[str, ...]


RIVERSIDE = Plan(
    "riverside", "Riverside", Currency("RIV", "Riverside pebbles", 2), ("alice", "arno")
)
HILLTOP = Plan("hilltop", "Hilltop", Currency("HTP", "Hilltop hours", 0), ("bob", "bea"))
MARKET = Plan("market", "Market Town", Currency("MKT", "Market marks", 3), ("carol", "chen"))


@dataclass(slots=True, eq=False)
class Community:
    """A community being served: its settings, its app (and so its runtime), members."""

    plan: Plan
    settings: Settings
    app: Starlette
    members: dict[str, Member] = field(default_factory=dict)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def name(self) -> str:
        return self.plan.username

    @property
    def domain(self) -> str:
        return self.settings.domain

    @property
    def handle(self) -> str:
        return f"@{self.plan.username}@{self.domain}"


def loopback_settings(port: int, data_dir: Path, **values: Any) -> Settings:
    """An instance at ``localhost:PORT`` over plain http, federating on loopback."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        domain=f"localhost:{port}",
        data_dir=data_dir,
        secret_key=setup.new_secret_key(),
        allow_http=True,
        allow_private_addresses=True,
        run_worker=False,
        **values,
    )


async def initialise(settings: Settings, plan: Plan) -> None:
    """What ``fediverse-share init`` does: schema, actors, keys, currency."""
    await setup.initialise(settings, setup.CommunitySpec(plan.username, plan.display_name))
    code, name, scale = plan.currency.code, plan.currency.name, plan.currency.scale
    await ledger.ensure_currency(settings, code, name, scale)


@contextlib.asynccontextmanager
async def running(settings: Settings, plan: Plan, sock: socket.socket) -> AsyncIterator[Community]:
    """Serve an initialised community on ``sock`` (bound to its port) with its members."""
    app = create_app(settings)
    # WebFinger asks https:// first, even of a loopback peer that only speaks http;
    # uvicorn would log each such TLS hello as a warning ("Invalid HTTP request").
    async with serve_app(app, sock=sock, log_level="error"):
        community = Community(plan, settings, app)
        for username in plan.members:
            community.members[username] = await members.add_member(
                community.runtime, username, None
            )
        yield community


async def link(x: Community, y: Community, limit_x: str, limit_y: str) -> None:
    """Both operators peer their communities, each with the credit limit it chooses."""
    await peering.add_peer(x.runtime, y.handle, limit_x)
    await peering.add_peer(y.runtime, x.handle, limit_y)
    await run_until_idle(x.runtime, y.runtime)


async def post_rate(c: Community, peer: Community, rate: str, fee_bps: int = 0) -> None:
    """``c`` posts how many of its units it gives for one unit of ``peer``'s currency."""
    await c.runtime.db.write(
        peering.post_rate, c.runtime, peer.plan.currency.code, rate, fee_bps=fee_bps, valid_hours=24
    )


async def pay(
    payer: Community, member: str, payee: Community, username: str, amount: str, key: str
) -> tuple[Quote, CrossPayment]:
    """A member quotes a payment in the payee's currency, then confirms it."""
    runtime, who = payer.runtime, payer.members[member]
    code = payee.plan.currency.code
    quote = await payments.quote(runtime, who, username, payee.domain, amount, code)
    return quote, await payments.pay(runtime, who, quote.quote_id, key)


async def connect(a: Community, b: Community, c: Community, limits: tuple[str, ...]) -> None:
    """Peer ``a``-``c`` and ``c``-``b`` (``limits``: a's, c's towards a, c's towards b,
    b's), each community posting rates for its peers' currencies."""
    await link(a, c, limits[0], limits[1])
    await link(c, b, limits[2], limits[3])
    await post_rate(c, a, "2")  # market gives 2 MKT for 1 RIV
    await post_rate(a, c, "1/2")
    await post_rate(b, c, "3/2", fee_bps=100)  # hilltop gives 1.5 HTP for 1 MKT, 1 % fee
    await post_rate(c, b, "2/3")
    await run_until_idle(a.runtime, b.runtime, c.runtime)


# --- the scenario ---------------------------------------------------------------------


def _bind(ports: range) -> Iterator[socket.socket]:
    for port in ports:
        try:
            yield bind_loopback(port)
        except OSError as error:
            raise ConfigError(
                f"port {port} is not free ({error.strerror}): try --base-port"
            ) from None


@contextlib.asynccontextmanager
async def _three(base_port: int, root: Path) -> AsyncIterator[tuple[Community, ...]]:
    plans = (RIVERSIDE, HILLTOP, MARKET)
    async with contextlib.AsyncExitStack() as stack:
        socks = []
        for sock in _bind(range(base_port, base_port + len(plans))):
            stack.callback(sock.close)
            socks.append(sock)
        started = []
        for plan, sock in zip(plans, socks, strict=True):
            settings = loopback_settings(sock.getsockname()[1], root / plan.username)
            await initialise(settings, plan)
            started.append(await stack.enter_async_context(running(settings, plan, sock)))
        yield tuple(started)


async def _publish(c: Community, member: str, draft: Draft) -> Listing:
    return await c.runtime.db.write(
        store.publish_listing, c.runtime, c.members[member].actor_id, draft
    )


async def _listings(a: Community, b: Community, c: Community) -> Listing:
    """Everyone publishes; hilltop's bob follows riverside first, so he sees its listings."""
    await actions.follow(b.runtime, b.members["bob"], a.handle)
    await run_until_idle(a.runtime, b.runtime)
    games = await _publish(
        a, "alice", Draft(Purpose.OFFER, Kind.SWAP, "Board games", "", "games", None)
    )
    await _publish(a, "arno", Draft(Purpose.REQUEST, Kind.LEND, "A drill", "", "tools", None))
    await _publish(b, "bob", Draft(Purpose.OFFER, Kind.SERVICE, "Bicycle repair", "", "repairs", 5))
    await _publish(
        b, "bea", Draft(Purpose.OFFER, Kind.GIVE, "Tomato seedlings", "", "garden", None)
    )
    await _publish(c, "carol", Draft(Purpose.OFFER, Kind.RENT, "Long ladder", "", "tools", 2_500))
    await _publish(
        c, "chen", Draft(Purpose.REQUEST, Kind.SERVICE, "Piano lessons", "", "music", None)
    )
    await run_until_idle(a.runtime, b.runtime, c.runtime)
    return games


async def _trade(c: Community, agreement_uri: str) -> Trade:
    trade = await c.runtime.db.read(find_trade_by_agreement, agreement_uri)
    if trade is None:
        raise AppError(f"the trade {agreement_uri} did not reach {c.name}", code="demo_failed")
    return trade


async def _swap(a: Community, b: Community, games: Listing) -> tuple[Trade, Trade]:
    """bob (hilltop) swaps for alice's board games (riverside): Offer, Accept, both
    deliver and both confirm; each community keeps its own record of the trade."""
    alice, bob = a.members["alice"], b.members["bob"]
    proposed = await negotiation.propose_on_listing(b.runtime, bob, games.uri, key="board-games")
    await run_until_idle(a.runtime, b.runtime)
    agreement = str(proposed.agreement_uri)
    on_a = await _trade(a, agreement)
    await steps.take_step(a.runtime, alice, on_a.id, "accept")
    for step in ("deliver", "confirm"):
        await run_until_idle(a.runtime, b.runtime)
        await steps.take_step(a.runtime, alice, on_a.id, step)
        await steps.take_step(b.runtime, bob, proposed.id, step)
    await run_until_idle(a.runtime, b.runtime)
    return await _trade(a, agreement), await _trade(b, agreement)


async def _payments(a: Community, b: Community, c: Community) -> list[demo_report.Payment]:
    made: list[demo_report.Payment] = []
    for payer, member, payee, username, amount in (
        (a, "alice", c, "carol", "5"),  # direct: riverside -> market
        (a, "alice", b, "bob", "70"),  # routed: riverside -> market -> hilltop
        (b, "bob", a, "alice", "3.00"),  # and back: hilltop -> market -> riverside
    ):
        started = time.perf_counter()
        quote, paid = await pay(payer, member, payee, username, amount, key=f"demo-{len(made)}")
        seconds = time.perf_counter() - started
        made.append(demo_report.Payment(payer, member, payee, username, quote, paid, seconds))
    await run_until_idle(a.runtime, b.runtime, c.runtime)
    return made


async def run(base_port: int) -> int:
    with tempfile.TemporaryDirectory(prefix="fediverse-share-demo-") as tmp:
        async with _three(base_port, Path(tmp)) as (a, b, c):
            demo_report.communities((a, b, c), tmp)
            games = await _listings(a, b, c)
            await demo_report.listings((a, b, c))
            await connect(a, b, c, ("1000", "2000", "2000", "3000"))
            await demo_report.peering(((a, c), (c, b)))
            await demo_report.swap(a, b, *(await _swap(a, b, games)))
            made = await _payments(a, b, c)
            demo_report.payments(made)
            await demo_report.ledgers((a, b, c))
            await demo_report.legs((a, b, c), made)
            matched = [
                await reconcile.reconcile_link(x.runtime, y.domain) for x, y in ((a, c), (c, b))
            ]
            await demo_report.positions(((a, c), (c, b)), matched)
            problems = await demo_report.audits((a, b, c))
        print("\nstopped the three communities; their data is removed")
    return 0 if problems == 0 and all(matched) else 1


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="three communities on loopback trading with each other")
    p.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help=f"the first of three consecutive ports on 127.0.0.1 (default {DEFAULT_BASE_PORT})",
    )
    p.set_defaults(handler=lambda args: cli.run(run(args.base_port)))
