"""The clearing document a community publishes, and routes read from its peers'.

``GET /clearing`` serves, without authentication: the community's currency, its
instance actor and inbox, the rates it posts now, its peers (the directory of linked
communities members see) and the routes it can carry payments on: each community it
reaches, the whole path from here (at most `MAX_HOPS_PUBLISHED` links), that
community's currency, and the room left on the first link (capacity, in our units).

A payer's community picks a path (`find_path`): a direct peer, else the shortest route
any active peer publishes, and the quote step then confirms it hop by hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from activitypub.errors import ActivityPubError
from exchange import accounts, peers
from exchange.money import Currency
from exchange.rates import list_rates
from exchange.settings import get_currency
from fediverse_share.clearing import wire
from fediverse_share.clearing.settlement import Refusal
from fediverse_share.federation.fetching import fetcher_for
from fediverse_share.runtime import Runtime

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


def render_document(
    conn: Connection, runtime: Runtime, learned: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Our clearing document; ``learned`` holds routes our peers published."""
    currency = get_currency(conn)
    actor = runtime.instance.instance_actor_uri
    links = peers.list_links(conn)
    routes: list[dict[str, Any]] = []
    for link in links:
        if not link.carries_new_transfers:
            continue
        link_currency = {"code": link.currency_code, "scale": link.currency_scale}
        routes.append(
            {
                "domain": link.domain,
                "path": [link.domain],
                "hops": 1,
                "currency": link_currency,
                "capacity": _capacity(conn, link, currency),
            }
        )
        for route in learned.get(link.domain, []):
            path = [link.domain, *route.get("path", [])]
            if runtime.instance.domain in path or len(path) > MAX_HOPS_PUBLISHED:
                continue
            routes.append({**route, "path": path, "hops": len(path)})
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
            currency = Currency(link.currency_code, link.currency_code, link.currency_scale)
            return Route((ours, domain), currency)
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
    """Read the routes ``link``'s community publishes, and remember them."""
    document = await fetch_document(runtime, base_of(link.actor_uri))
    routes = document.get("routes")
    found = [r for r in routes if isinstance(r, dict)] if isinstance(routes, list) else []
    runtime.peer_routes[link.domain] = found
    return found


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
