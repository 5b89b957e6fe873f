"""Linked communities for clearing tests: each its own database, currency and scale.

``a.example`` (AAA, scale 2, member alice) - ``b.example`` (BBB, scale 0, member bob) -
``c.example`` (CCC, scale 3, member carol). B posts 1/3 BBB per AAA with a 1 % fee; C
posts 22/7 CCC per BBB with a 0.5 % fee; so both conversions leave rounding residues.
A payment from alice to carol is routed through B; one from alice to bob is direct.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from exchange import tables
from exchange.accounts import (
    Account,
    Limits,
    create_ledger,
    list_accounts,
    open_member_account,
)
from exchange.audit import Severity, audit
from exchange.clearing import LegRequest, condition_of
from exchange.money import Currency
from exchange.peers import PeerRef, consent_locally, consent_remotely
from exchange.rates import set_rate
from exchange.settings import LedgerSettings
from fediverse_share.database import Database
from fediverse_share.migrations import upgrade
from tests.exchange.conftest import T0
from tests.support.databases import fresh_database_url

HOUR_US = 3_600 * 1_000_000
DAY_US = 24 * HOUR_US
AAA = Currency("AAA", "Aster", 2)
BBB = Currency("BBB", "Birch", 0)
CCC = Currency("CCC", "Cedar", 3)
#: Generous limits, unless a test sets its own.
WIDE = Limits(10**12, 10**12)
#: domain -> (currency, member, {peer domain: (rate for the peer's currency, fee bps)})
LAYOUT: dict[str, tuple[Currency, str, dict[str, tuple[str, int]]]] = {
    "a.example": (AAA, "alice", {"b.example": ("3", 0)}),
    "b.example": (BBB, "bob", {"a.example": ("1/3", 100), "c.example": ("7/22", 0)}),
    "c.example": (CCC, "carol", {"b.example": ("22/7", 50)}),
}
NEIGHBOURS = {"a.example": ("b.example",), "b.example": ("a.example", "c.example")}
NEIGHBOURS["c.example"] = ("b.example",)


@dataclass
class Community:
    domain: str
    currency: Currency
    member: str
    db: Database

    async def write(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.db.write(fn, *args, **kwargs)

    async def read(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.db.read(fn, *args, **kwargs)

    def ref(self) -> PeerRef:
        return peer_ref(self.domain)


def peer_ref(domain: str) -> PeerRef:
    currency = LAYOUT[domain][0]
    return PeerRef(domain, f"https://{domain}/actor", f"https://{domain}/inbox", currency)


def settings_for(currency: Currency) -> LedgerSettings:
    """No demurrage, members may go far below zero (limits are tested on peer accounts)."""
    defaults = LedgerSettings.defaults(currency)
    return replace(defaults, demurrage_rate_bps=0, default_credit_limit_minor=10**12)


def _setup(conn: Any, domain: str, peers: list[PeerRef]) -> None:
    currency, member, rates = LAYOUT[domain]
    create_ledger(conn, currency, T0, settings_for(currency))
    open_member_account(conn, member, T0)
    for peer in peers:
        consent_locally(conn, peer, WIDE, T0)
        consent_remotely(conn, peer, T0)
        text, fee_bps = rates[peer.domain]
        num, _, den = text.partition("/")
        set_rate(
            conn,
            peer.currency.code,
            Fraction(int(num), int(den or 1)),
            fee_bps=fee_bps,
            max_amount_minor=10**12,
            valid_from_us=T0,
            valid_until_us=T0 + 30 * DAY_US,
        )


DOMAINS = ("a.example", "b.example", "c.example")


def reset(conn: Any) -> None:
    """Empty every ledger and clearing table (cheaper than a new migrated database)."""
    for table in reversed(tables.metadata.sorted_tables):
        conn.execute(delete(table))


@contextlib.asynccontextmanager
async def migrated_database(tmp_path: Path, name: str) -> AsyncIterator[Database]:
    """A migrated database (a SQLite file, or a PostgreSQL schema when
    FEDIVERSE_SHARE_TEST_DATABASE_URL names a server), to share between tests that
    `reset` it."""
    postgres = os.environ.get("FEDIVERSE_SHARE_TEST_DATABASE_URL", "")
    async with fresh_database_url(postgres, tmp_path, name) as (url, schema):
        database = Database(url, schema=schema)
        try:
            await upgrade(database)
            yield database
        finally:
            await database.close()


@contextlib.asynccontextmanager
async def migrated_databases(tmp_path: Path) -> AsyncIterator[dict[str, Database]]:
    """One migrated database for each of A, B and C, keyed by domain."""
    async with contextlib.AsyncExitStack() as stack:
        databases: dict[str, Database] = {}
        for domain in DOMAINS:
            name = domain.split(".")[0]
            databases[domain] = await stack.enter_async_context(migrated_database(tmp_path, name))
        yield databases


async def linked_communities(
    databases: dict[str, Database], domains: tuple[str, ...] = DOMAINS
) -> dict[str, Community]:
    """The given communities, afresh: ledgers, a member each, links to their neighbours
    (both consents, wide limits; whether or not the neighbour's ledger is set up too) and
    posted rates; keyed by domain and by letter."""
    communities: dict[str, Community] = {}
    for domain in domains:
        currency, member, _ = LAYOUT[domain]
        community = Community(domain, currency, member, databases[domain])
        communities[domain] = communities[domain.split(".")[0]] = community
        await community.write(reset)
        await community.write(_setup, domain, [peer_ref(d) for d in NEIGHBOURS[domain]])
    return communities


@dataclass(frozen=True)
class Payment:
    """A transfer's id and path, the payee's secret and its condition, and what the payee
    (carol, or bob on a direct payment) is owed in its minor units."""

    transfer_id: str
    deliver_minor: int
    destination: str = "acct:carol@c.example"
    path: tuple[str, ...] = ("a.example", "b.example", "c.example")

    @property
    def fulfilment(self) -> str:
        return hashlib.sha256(f"secret of {self.transfer_id}".encode()).hexdigest()

    @property
    def condition(self) -> str:
        return condition_of(self.fulfilment)

    @property
    def deliver(self) -> str:
        """What the payee is owed as the payer's side writes it (kept as it is)."""
        return json.dumps({"minor": self.deliver_minor, "at": self.path[-1]})

    def request(self, amount_minor: int, expires_at_us: int, **kw: Any) -> LegRequest:
        kw = {"rate_ids": {}, **kw}
        return LegRequest(
            transfer_id=self.transfer_id,
            condition=self.condition,
            expires_at_us=expires_at_us,
            destination=self.destination,
            deliver=self.deliver,
            amount_minor=amount_minor,
            path=self.path,
            **kw,
        )

    def payer(self, amount: int, expires: int = T0 + 3 * HOUR_US, **kw: Any) -> LegRequest:
        """alice's leg in A towards B."""
        kw = {"downstream": "b.example", "payer_account_id": "alice", **kw}
        return self.request(amount, expires, **kw)

    def hop(self, amount_in: int, expires: int = T0 + 2 * HOUR_US, **kw: Any) -> LegRequest:
        """B's leg from A to C."""
        return self.request(amount_in, expires, upstream="a.example", downstream="c.example", **kw)

    def payee(
        self, amount_in: int, expires: int = T0 + HOUR_US, *, at: str = "c", **kw: Any
    ) -> LegRequest:
        """carol's leg in C (from B), or with ``at="b"`` bob's in B (from A)."""
        upstream, member = ("b.example", "carol") if at == "c" else ("a.example", "bob")
        kw = {
            "upstream": upstream,
            "payee_account_id": member,
            "deliver_minor": self.deliver_minor,
            **kw,
        }
        return self.request(amount_in, expires, **kw)


def direct(transfer_id: str, deliver_minor: int = 1) -> Payment:
    """A payment from alice to bob (A -> B)."""
    return Payment(transfer_id, deliver_minor, "acct:bob@b.example", ("a.example", "b.example"))


Book = dict[str, tuple[int, int, int]]


def book(conn: Any) -> Book:
    """Every account: (balance, outgoing holds, incoming holds)."""
    return {
        a.id: (a.balance_minor, a.debits_pending_minor, a.credits_pending_minor)
        for a in list_accounts(conn)
    }


def changes(before: Book, after: Book) -> dict[str, tuple[int, int, int]]:
    """The accounts that moved, and by how much."""
    moved = {}
    for account_id, now in after.items():
        was = before.get(account_id, (0, 0, 0))
        delta = tuple(n - w for n, w in zip(now, was, strict=True))
        if any(delta):
            moved[account_id] = delta
    return moved


def within_limits(account: Account) -> bool:
    lower, upper = account.limits.credit_limit_minor, account.limits.upper_limit_minor
    return (lower is None or account.available_minor >= -lower) and (
        upper is None or account.balance_minor + account.credits_pending_minor <= upper
    )


def health(conn: Any) -> dict[str, Any]:
    """What must hold in every ledger after every step: no error for the audit to report
    (and which warnings), posted balances and holds each summing to zero, and every
    account within its limits."""
    accounts = list_accounts(conn)
    problems = audit(conn)
    return {
        "errors": [p for p in problems if p.severity is Severity.ERROR],
        "warnings": sorted(p.code for p in problems if p.severity is not Severity.ERROR),
        "posted_sum": sum(a.balance_minor for a in accounts),
        "held_sum": sum(a.debits_pending_minor - a.credits_pending_minor for a in accounts),
        "beyond_limits": [a.id for a in accounts if not within_limits(a)],
    }


async def assert_healthy(*communities: Community, warnings: tuple[str, ...] = ()) -> None:
    """Each community is healthy; the audit warns of nothing but ``warnings`` (such as
    ``clearing_leg_in_doubt`` once for each leg in doubt)."""
    for community in communities:
        found = await community.read(health)
        expected = {"errors": [], "warnings": sorted(warnings), "posted_sum": 0, "held_sum": 0}
        assert found == {**expected, "beyond_limits": []}, (community.domain, found)
