"""What ``fediverse-share demo`` prints: each part read back from the communities' own
databases (listings, links, trades, ledgers, clearing legs, statements, audit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import Connection

from exchange import accounts, audit, clearing, peers
from exchange.money import Currency, render_amount
from exchange.rates import list_rates, render_rate
from exchange.trade_store import TradeStep, list_steps
from exchange.trade_terms import Trade
from fediverse_share.clearing.payments import CrossPayment, Quote
from fediverse_share.clock import now_us
from fediverse_share.listings.model import Listing
from fediverse_share.listings.search import SearchQuery, search

if TYPE_CHECKING:
    from fediverse_share.demo import Community

Pair = tuple["Community", "Community"]


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment the demo made: who paid whom, the quote, the outcome, how long it took."""

    payer: Community
    member: str
    payee: Community
    username: str
    quote: Quote
    paid: CrossPayment
    seconds: float


def _money(amount_minor: int, currency: Currency) -> str:
    return f"{render_amount(amount_minor, currency)} {currency.code}"


def _heading(title: str) -> None:
    print(f"\n== {title}")


def communities(started: Sequence[Community], data_dir: str) -> None:
    print(f"Three communities on loopback (data in {data_dir}, removed at the end):")
    for c in started:
        currency = c.plan.currency
        print(
            f"  {c.handle:<28} {currency.code} ({currency.name}, {currency.scale} decimals)"
            f"  members: {', '.join(c.members)}"
        )


async def listings(started: Sequence[Community]) -> None:
    _heading("Listings each community knows (its own, and those its members follow)")
    for c in started:
        known: list[tuple[Listing, float]] = await c.runtime.db.read(
            search, SearchQuery(limit=100), now_us()
        )
        print(f"  {c.name}:")
        for listing, _ in sorted(known, key=lambda found: found[0].id):
            price = f"  {listing.price_text} {listing.currency_code}" if listing.price_text else ""
            origin = "here" if listing.local else f"from {urlsplit(listing.uri).netloc}"
            print(
                f"    {listing.purpose.label:<5} {listing.kind.value:<8} "
                f"{listing.title:<18} {origin}{price}"
            )


async def peering(pairs: Sequence[Pair]) -> None:
    _heading("Peering (both operators consent) and posted rates")
    for x, y in pairs:
        for one, other in ((x, y), (y, x)):
            link = await one.runtime.db.read(peers.get_link, other.domain)
            account = await one.runtime.db.read(accounts.get_account, link.account_id)
            limit = account.limits.credit_limit_minor or 0
            print(
                f"  {one.name}: link with {other.name} {link.status.value}, "
                f"{link.account_id} credit limit {_money(limit, one.plan.currency)}"
            )
    for c in dict.fromkeys(c for pair in pairs for c in pair):
        for rate in await c.runtime.db.read(list_rates, now_us()):
            print(
                f"  {c.name} gives {render_rate(rate.rate)} {c.plan.currency.code} for 1 "
                f"{rate.peer_currency_code} (fee {rate.fee_bps} bps, version {rate.version})"
            )


def _steps(history: list[TradeStep]) -> str:
    return ", ".join(f"{step.action.value} -> {step.to_state.value}" for step in history)


async def swap(a: Community, b: Community, on_a: Trade, on_b: Trade) -> None:
    _heading(f"Swap on {a.name}'s listing {on_a.listing.title!r} (FEP-0837, no money moves)")
    print(f"  bob@{b.name} offers a swap; alice@{a.name} accepts; both deliver, both confirm")
    for c, trade in ((a, on_a), (b, on_b)):
        history = await c.runtime.db.read(list_steps, trade.id)
        print(f"  {c.name}: trade {trade.id} {trade.state.value}: {_steps(history)}")


def payments(made: Sequence[Payment]) -> None:
    _heading("Payments across communities (quote, then pay: settled hop by hop)")
    for p in made:
        q = p.quote
        path = " -> ".join(_name(made, domain) for domain in q.path)
        print(
            f"  {p.member}@{p.payer.name} pays {p.username}@{p.payee.name} "
            f"{_money(q.deliver_minor, q.deliver_currency)}: costs "
            f"{_money(q.amount_minor, p.payer.plan.currency)}, path {path}, "
            f"{p.paid.state} in {p.seconds * 1000:.0f} ms"
        )


def _name(made: Sequence[Payment], domain: str) -> str:
    for p in made:
        for c in (p.payer, p.payee):
            if c.domain == domain:
                return c.name
    return domain


async def ledgers(started: Sequence[Community]) -> None:
    _heading("Ledgers (each in its own currency; every ledger sums to zero)")
    for c in started:
        found = await c.runtime.db.read(accounts.list_accounts)
        print(f"  {c.name} ({c.plan.currency.code}):")
        for account in found:
            pending = account.debits_pending_minor + account.credits_pending_minor
            held = f"  (holds {pending})" if pending else ""
            balance = render_amount(account.balance_minor, c.plan.currency)
            print(f"    {account.id:<22} {account.kind.value:<7} {balance:>10}{held}")
        total = sum(account.balance_minor for account in found)
        print(f"    {'sum':<30} {render_amount(total, c.plan.currency):>10}")


def _leg_line(c: Community, leg: clearing.Leg) -> str:
    currency = c.plan.currency
    fee = f", fee {_money(leg.fee_minor, currency)}" if leg.fee_minor else ""
    return (
        f"    {c.name:<9} {leg.role.value:<5} {leg.debit_account_id} -> "
        f"{leg.credit_account_id}: {_money(leg.gross_minor, currency)}{fee}, {leg.state.value}"
    )


async def legs(started: Sequence[Community], made: Sequence[Payment]) -> None:
    _heading("Clearing legs (one per community on the path, each in its own units)")
    by_domain = {c.domain: c for c in started}
    for p in made:
        print(f"  {p.quote.transfer_id}")
        for domain in p.quote.path:
            c = by_domain[domain]
            leg = await c.runtime.db.read(clearing.get_leg, p.quote.transfer_id)
            print(_leg_line(c, leg))


async def positions(pairs: Sequence[Pair], matched: Sequence[bool | None]) -> None:
    _heading("Link positions (the mirrored peer: accounts) and reconciliation")
    for (x, y), match in zip(pairs, matched, strict=True):
        xs = await x.runtime.db.read(accounts.get_account, accounts.peer_account_id(y.domain))
        ys = await y.runtime.db.read(accounts.get_account, accounts.peer_account_id(x.domain))
        print(
            f"  {x.name}-{y.name}: {x.name} {xs.id} = {_money(xs.balance_minor, x.plan.currency)}"
            f"; {y.name} {ys.id} = {_money(ys.balance_minor, y.plan.currency)}"
        )
        verdict = {True: "match", False: "DO NOT MATCH", None: "could not be compared"}[match]
        print(f"    signed statements of the legs that crossed it: {verdict}")


def _audit(conn: Connection) -> list[audit.Problem]:
    return audit.audit(conn, now_us())


async def audits(started: Sequence[Community]) -> int:
    _heading("Audit (every ledger invariant, hash chains included)")
    problems = 0
    for c in started:
        found = await c.runtime.db.read(_audit)
        problems += len(found)
        print(f"  {c.name}: {len(found)} problems")
        for problem in found:
            print(f"    {problem.code}: {problem.message}")
    return problems
