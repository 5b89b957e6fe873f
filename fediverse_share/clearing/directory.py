"""The clearing document a community publishes, and routes read from its peers'.

``GET /clearing`` serves, without authentication: the community's currency, its
instance actor and inbox, the rates it posts now, its peers (the directory of linked
communities members see) and the routes it can carry payments on: each community it
reaches, the whole path from here (at most `MAX_HOPS_PUBLISHED` links), that
community's currency, the room left on the first link (capacity, in our units) and an
indicative rate (how many of its units one of ours buys, fees taken off, from the
quotes the communities on the way posted; the quote step gives the real figure).
Peers' posted rates are cached (``clearing_peer_rates``) when pushed to us and when
their clearing document is read.

A payer's community picks a path (`find_path`): a direct peer, else the shortest route
any active peer publishes, and the quote step then confirms it hop by hop.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, select

from activitypub.errors import ActivityPubError
from activitypub.objects import id_of
from exchange import accounts, peers, rates
from exchange import clearing_tables as ct
from exchange.errors import LedgerError
from exchange.money import BPS, Currency
from exchange.rates import list_rates, render_rate
from exchange.settings import get_currency
from fediverse_share.clearing import wire
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.federation.delivery import domain_of
from fediverse_share.federation.fetching import fetcher_for
from fediverse_share.runtime import Runtime
from fediverse_share.upserts import insert_or_replace

MAX_HOPS_PUBLISHED = 3
MAX_PATH = wire.MAX_PATH


def document_url(base_url: str) -> str:
    return f"{base_url}/clearing"


def rate_uri(runtime: Runtime, rate_id: str) -> str:
    return f"{runtime.instance.base_url}/clearing/rates/{rate_id}"


def _capacity(conn: Connection, link: peers.Link, currency: Currency) -> dict[str, str] | None:
    account = accounts.get_account(conn, link.account_id)
    upper = account.limits.upper_limit_minor
    if upper is None:
        return None
    room = max(0, upper - account.balance_minor - account.credits_pending_minor)
    return wire.render_money(room, currency)


def _indicative(rate: Fraction) -> Fraction:
    """An indicative rate, kept readable: at most 12 decimal places of precision."""
    return rate.limit_denominator(10**12)


def _parse_fraction(value: Any) -> Fraction | None:
    if not isinstance(value, str) or len(value) > 60:
        return None
    try:
        parsed = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return parsed if parsed > 0 else None


def render_document(
    conn: Connection, runtime: Runtime, learned: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Our clearing document; ``learned`` holds routes our peers published."""
    currency = get_currency(conn)
    actor = runtime.instance.instance_actor_uri
    links = peers.list_links(conn)
    routes: list[dict[str, Any]] = []
    at_us = runtime.now_us()
    for link in links:
        if not link.carries_new_transfers:
            continue
        rate = peer_rate(conn, link.domain, currency.code, at_us)
        routes.append(
            {
                "domain": link.domain,
                "path": [link.domain],
                "hops": 1,
                "currency": {"code": link.currency_code, "scale": link.currency_scale},
                "capacity": _capacity(conn, link, currency),
                "rate": None if rate is None else render_rate(_indicative(rate)),
            }
        )
        for route in learned.get(link.domain, []):
            path = [link.domain, *route.get("path", [])]
            if runtime.instance.domain in path or len(path) > MAX_HOPS_PUBLISHED:
                continue
            onward = _parse_fraction(route.get("rate"))
            through = (
                None if rate is None or onward is None else render_rate(_indicative(rate * onward))
            )
            routes.append({**route, "path": path, "hops": len(path), "rate": through})
    return {
        "@context": wire.CONTEXT,
        "id": document_url(runtime.instance.base_url),
        "type": "Service",
        "name": f"Clearing of {runtime.instance.domain}",
        "attributedTo": actor,
        "inbox": f"{runtime.instance.base_url}/actor/inbox",
        "community": runtime.instance.community_uri,
        "currency": wire.render_currency(currency),
        "rates": [
            wire.render_rate_quote(rate_uri(runtime, r.id), actor, r, currency)
            for r in list_rates(conn, runtime.now_us())
        ],
        "peers": [
            {
                "domain": link.domain,
                "status": link.status.value,
                "currency": {"code": link.currency_code, "scale": link.currency_scale},
            }
            for link in links
        ],
        "routes": routes,
    }


async def fetch_document(runtime: Runtime, base_url: str) -> dict[str, Any]:
    """A community's clearing document (signed GET); raises `ActivityPubError`."""
    fetcher = await fetcher_for(runtime)
    return await fetcher.get_json(
        document_url(base_url),
        accept="application/activity+json, application/json",
        media_types=("application/activity+json", "application/json", "application/ld+json"),
    )


@dataclass(frozen=True, slots=True)
class Route:
    path: tuple[str, ...]  # ours first, the payee's community last
    currency: Currency  # the payee's community's


def _route_currency(route: dict[str, Any]) -> Currency:
    value = route.get("currency")
    if not isinstance(value, dict) or type(value.get("scale")) is not int:
        raise wire.MessageInvalid("a route names its currency")
    code = str(value.get("code", ""))
    return Currency(code, code, value["scale"])


def _active_links(conn: Connection) -> list[peers.Link]:
    return [link for link in peers.list_links(conn) if link.carries_new_transfers]


async def find_path(runtime: Runtime, domain: str) -> Route:
    """A path to ``domain``'s community; raises `Refusal` (``no_route``)."""
    ours = runtime.instance.domain
    links = await runtime.db.read(_active_links)
    for link in links:
        if link.domain == domain:
            return Route((ours, domain), link.currency)
    best: Route | None = None
    for link in links:
        try:
            routes = await refresh_routes_of(runtime, link)
            for route in routes:
                path = (ours, link.domain, *route.get("path", []))
                if path[-1] != domain or len(set(path)) < len(path) or len(path) > MAX_PATH:
                    continue
                if best is None or len(path) < len(best.path):
                    best = Route(tuple(str(d) for d in path), _route_currency(route))
        except (ActivityPubError, wire.MessageInvalid, AttributeError, TypeError):
            continue  # a peer we cannot read is no way through
    if best is None:
        raise Refusal("no_route", f"no linked community reaches {domain}")
    return best


async def refresh_routes_of(runtime: Runtime, link: peers.Link) -> list[dict[str, Any]]:
    """Read the routes and rates ``link``'s community publishes, and remember them."""
    document = await fetch_document(runtime, base_of(link.actor_uri))
    routes = document.get("routes")
    found = [r for r in routes if isinstance(r, dict)] if isinstance(routes, list) else []
    runtime.peer_routes[link.domain] = found
    quotes = document.get("rates")
    for quote in quotes if isinstance(quotes, list) else []:
        with contextlib.suppress(wire.MessageInvalid, LedgerError):
            await runtime.db.write(keep_peer_rate, link, quote, runtime.now_us())
    return found


def keep_peer_rate(conn: Connection, link: peers.Link, obj: Any, at_us: int) -> None:
    """Cache a RateQuote ``link``'s community posted (pushed or fetched); raises
    `MessageInvalid` unless it is served from its host and attributed to its actor."""
    if not isinstance(obj, dict):
        raise wire.MessageInvalid("a RateQuote object was expected")
    if domain_of(wire.text_of(obj, "id")) != link.domain or id_of(obj.get("attributedTo")) != (
        link.actor_uri
    ):
        raise wire.MessageInvalid("a RateQuote is served and attributed by its sender")
    rate = wire.parse_rate_quote(obj, link.currency)
    store_peer_rate(conn, link.domain, rate, link.currency_code, at_us)


def store_peer_rate(
    conn: Connection, domain: str, rate: rates.PostedRate, their: str, at_us: int
) -> None:
    """Keep a peer's posted quote (its newest versions answer the directory)."""
    row = {
        "uri": rate.id,
        "domain": domain,
        "currency_code": their,
        "peer_currency_code": rate.peer_currency_code,
        "version": rate.version,
        "rate_num": str(rate.rate.numerator),
        "rate_den": str(rate.rate.denominator),
        "fee_bps": rate.fee_bps,
        "max_amount_minor": rate.max_amount_minor,
        "valid_from_us": rate.valid_from_us,
        "valid_until_us": rate.valid_until_us,
        "received_at_us": at_us,
    }
    # Routed quotes read their peers' documents concurrently: one upsert, not a delete
    # and an insert, which race on PostgreSQL (UniqueViolation on the uri).
    insert_or_replace(conn, ct.peer_rates, row)


def peer_rate_from_row(row: Any) -> rates.PostedRate:
    """A cached peer quote; its id is its URI."""
    return rates.rate_from_row(SimpleNamespace(**{**row._mapping, "id": row.uri}))


def find_peer_rate(
    conn: Connection, domain: str, currency_code: str, now_us: int
) -> rates.PostedRate | None:
    """The newest quote ``domain`` posted for ``currency_code`` that is valid now."""
    r = ct.peer_rates
    row = conn.execute(
        select(r)
        .where(
            r.c.domain == domain,
            r.c.peer_currency_code == currency_code,
            r.c.valid_from_us <= now_us,
            r.c.valid_until_us > now_us,
        )
        .order_by(r.c.version.desc(), r.c.received_at_us.desc())
        .limit(1)
    ).first()
    return None if row is None else peer_rate_from_row(row)


def peer_rate(conn: Connection, domain: str, code: str, at_us: int) -> Fraction | None:
    """How many of ``domain``'s units one of ``code`` buys there now, its fee taken off
    (from the newest valid quote it posted for ``code``), or ``None`` if unknown."""
    quote = find_peer_rate(conn, domain, code, at_us)
    if quote is None:
        return None
    return quote.rate * Fraction(BPS - quote.fee_bps, BPS)


async def refresh_routes(runtime: Runtime) -> int:
    """Worker step (rate-limited by the caller): every active peer's routes."""
    done = 0
    for link in await runtime.db.read(_active_links):
        try:
            await refresh_routes_of(runtime, link)
            done += 1
        except ActivityPubError:
            runtime.peer_routes.pop(link.domain, None)
    return done


def base_of(actor_uri: str) -> str:
    scheme, rest = actor_uri.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"
