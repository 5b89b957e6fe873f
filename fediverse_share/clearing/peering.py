"""Peering and posted rates between communities' instance actors.

An operator peers with another community (`add_peer`, from the CLI or the admin API):
we read its clearing document (currency, instance actor, inbox), consent locally with
the limits chosen for ``peer:<domain>``, and send ``Offer(ClearingLink)`` through the
delivery queue (retried for days). The other operator's own ``peer add`` sends the
same back: that is its acceptance, and the link is active on both sides. Status
changes (suspend, resume, end) go out as ``Update(ClearingLink)``. Posted rates go
out as ``Create(RateQuote)`` to every active peer.

`handle` receives these from the inbox (through the worker, like any activity).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping

from activitypub.objects import Activity, id_of, types_of
from exchange import accounts, peers, rates
from exchange.accounts import Limits
from exchange.money import parse_amount
from exchange.peers import Link, LinkStatus, PeerRef
from exchange.settings import get_currency
from fediverse_share import actors
from fediverse_share.clearing import directory, transport, wire
from fediverse_share.federation import actions, publish, remote_actors
from fediverse_share.federation.delivery import domain_of
from fediverse_share.runtime import Runtime

ONE_HOUR_US = 3600 * 1_000_000


def link_id(runtime: Runtime, domain: str) -> str:
    return f"{runtime.instance.base_url}/clearing/links/{domain}"


async def discover(runtime: Runtime, handle_or_url: str) -> PeerRef:
    """Who a community is, from its handle (``@name@domain``) or any of its URLs."""
    target = handle_or_url.strip()
    if target.startswith(("http://", "https://")):
        base = directory.base_of(target)
    else:
        community = await actions.resolve(runtime, target)
        base = directory.base_of(community["uri"])
    document = await directory.fetch_document(runtime, base)
    actor_uri = wire.text_of(document, "attributedTo")
    if domain_of(actor_uri) != domain_of(base):
        raise wire.MessageInvalid("a clearing document names an actor of its own host")
    actor = await remote_actors.get_actor(runtime, actor_uri)
    currency = wire.parse_currency(document.get("currency"))
    return PeerRef(domain_of(actor_uri), actor_uri, actor["inbox"], currency)


def parse_limit(conn: Connection, text: str) -> Limits:
    """A credit limit typed by an operator, in our currency, for both directions."""
    amount = parse_amount(text, get_currency(conn))
    return Limits(credit_limit_minor=amount, upper_limit_minor=amount)


async def add_peer(runtime: Runtime, handle_or_url: str, credit_limit: str) -> Link:
    """Peer with a community (or change the limits of an existing link)."""
    peer = await discover(runtime, handle_or_url)
    if peer.domain == runtime.instance.domain:
        raise wire.MessageInvalid("a community does not peer with itself")
    return await runtime.db.write(_consent, runtime, peer, credit_limit)


def _consent(conn: Connection, runtime: Runtime, peer: PeerRef, credit_limit: str) -> Link:
    link = peers.consent_locally(conn, peer, parse_limit(conn, credit_limit), runtime.now_us())
    _send_link(conn, runtime, link, "Offer", "active")
    return link


def _instance_actor(conn: Connection, runtime: Runtime) -> RowMapping:
    return actors.get_local_actor(conn, runtime.instance.domain)


def _send(conn: Connection, runtime: Runtime, to: str, kind: str, obj: dict[str, Any]) -> None:
    actor = _instance_actor(conn, runtime)
    doc = wire.activity(kind, transport.message_id(runtime), actor["uri"], to, obj)
    publish.record_activity(conn, runtime, actor, doc, public=False)


def _send_link(conn: Connection, runtime: Runtime, link: Link, kind: str, status: str) -> None:
    obj = wire.render_link(
        link_id(runtime, link.domain),
        runtime.instance.instance_actor_uri,
        runtime.instance.community_uri,
        get_currency(conn),
        status,
        runtime.now_us(),
    )
    _send(conn, runtime, link.actor_uri, kind, obj)


def set_status(conn: Connection, runtime: Runtime, domain: str, status: LinkStatus) -> Link:
    """Suspend, resume or end a link, and tell the peer."""
    link = peers.set_status(
        conn, domain, status, runtime.now_us(), note=f"{status.value} by the operator"
    )
    told = "ended" if status is LinkStatus.ENDED else link.status.value
    _send_link(conn, runtime, link, "Update", "suspended" if told == "frozen" else told)
    return link


def list_peers(conn: Connection) -> list[tuple[Link, accounts.Account]]:
    return [
        (link, accounts.get_account(conn, link.account_id))
        for link in peers.list_links(conn)
        if accounts.find_account(conn, link.account_id) is not None
    ]


# -- posted rates ----------------------------------------------------------------------


def post_rate(
    conn: Connection,
    runtime: Runtime,
    peer_currency: str,
    rate_text: str,
    *,
    fee_bps: int,
    valid_hours: float,
    max_amount: str | None = None,
) -> rates.PostedRate:
    """Post a new version of our rate for ``peer_currency`` and push it to our peers."""
    currency = get_currency(conn)
    at = runtime.now_us()
    maximum = parse_amount(max_amount, currency) if max_amount else 10**15
    rate = rates.set_rate(
        conn,
        peer_currency.upper(),
        rates.parse_rate(rate_text),
        fee_bps=fee_bps,
        max_amount_minor=maximum,
        valid_from_us=at,
        valid_until_us=at + int(valid_hours * ONE_HOUR_US),
    )
    actor = runtime.instance.instance_actor_uri
    quote = wire.render_rate_quote(directory.rate_uri(runtime, rate.id), actor, rate, currency)
    for link in peers.list_links(conn):
        if link.carries_new_transfers:
            _send(conn, runtime, link.actor_uri, "Create", quote)
    return rate


# -- inbound ---------------------------------------------------------------------------


async def handle(runtime: Runtime, activity: Activity, actor: RowMapping) -> bool:
    """Handle a peering or rate message; ``False`` if ``activity`` is not one."""
    obj = activity.object
    kinds = types_of(obj) if isinstance(obj, dict) else []
    if activity.type in ("Offer", "Update") and "ClearingLink" in kinds:
        assert isinstance(obj, dict)
        message = wire.parse_link(obj)
        if id_of(obj.get("attributedTo")) != actor["uri"]:
            raise wire.MessageInvalid("a ClearingLink is attributed to the actor who sends it")
        peer = PeerRef(domain_of(actor["uri"]), actor["uri"], actor["inbox"], message.currency)
        await runtime.db.write(_link_message, peer, message, runtime.now_us())
        return True
    if activity.type in ("Create", "Update") and "RateQuote" in kinds:
        assert isinstance(obj, dict)
        await runtime.db.write(_rate_message, actor, obj, runtime.now_us())
        return True
    return False


def _link_message(conn: Connection, peer: PeerRef, message: wire.LinkMessage, at_us: int) -> None:
    if peers.is_stale(conn, peer.domain, message.updated_us):
        return  # delivered after a newer one: the newer one stands
    status = message.status
    if status == "ended":
        if peers.find_link(conn, peer.domain) is not None:
            peers.withdraw_remote_consent(conn, peer.domain, at_us)
    elif status == "active":
        peers.consent_remotely(conn, peer, at_us)
        peers.is_stale(conn, peer.domain, message.updated_us)  # a new link: stamp it


def _rate_message(conn: Connection, actor: RowMapping, obj: dict[str, Any], at_us: int) -> None:
    directory.keep_peer_rate(conn, peers.get_link(conn, domain_of(actor["uri"])), obj, at_us)
