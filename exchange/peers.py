"""Peering: the links between this community and others, and their status.

A link needs both sides' consent. This community's operator consents with
`consent_locally` (which opens or re-limits the clearing account ``peer:<domain>``
with the limits the operator chooses); the peer's consent arrives as a signed message
and is recorded with `consent_remotely`. With both, the link is ``active``.

Statuses: ``pending`` (one consent missing), ``active``, ``suspended`` (by this
operator: refuses new transfers, completes those already prepared), ``frozen`` (a
reconciliation statement did not match: refuses new transfers until an operator
resumes it), ``ended`` (by either side; the account stays for the history).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from exchange import accounts, sql
from exchange import clearing_tables as ct
from exchange.accounts import ROUNDING, Limits, peer_account_id
from exchange.booking import TransferKind
from exchange.errors import InvalidRequest, LimitExceeded, LinkNotActive, UnknownPeer
from exchange.money import Currency
from exchange.settings import get_currency
from exchange.transfers import TransferRequest, create_transfer


class LinkStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    FROZEN = "frozen"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class PeerRef:
    """Who a peer is on the wire: its domain, instance actor, inbox and currency."""

    domain: str
    actor_uri: str
    inbox_url: str
    currency: Currency


@dataclass(frozen=True, slots=True)
class Link:
    domain: str
    actor_uri: str
    inbox_url: str
    currency_code: str
    currency_scale: int
    status: LinkStatus
    local_consent: bool
    remote_consent: bool
    remote_updated_at_us: int
    residue: Fraction
    statement_seq: int
    statement_hash: str
    note: str
    created_at_us: int
    updated_at_us: int

    @property
    def account_id(self) -> str:
        return peer_account_id(self.domain)

    @property
    def currency(self) -> Currency:
        """The peer's currency (named by its code: its name is the peer's to choose)."""
        return Currency(self.currency_code, self.currency_code, self.currency_scale)

    @property
    def carries_new_transfers(self) -> bool:
        return self.status is LinkStatus.ACTIVE


def link_from_row(row: Any) -> Link:
    return link_from_values(row._mapping)


def link_from_values(values: Mapping[str, Any]) -> Link:
    """A link from its column values by name (a row's mapping, or a raw row's)."""
    return Link(
        domain=values["domain"],
        actor_uri=values["actor_uri"],
        inbox_url=values["inbox_url"],
        currency_code=values["currency_code"],
        currency_scale=values["currency_scale"],
        status=LinkStatus(values["status"]),
        local_consent=bool(values["local_consent"]),
        remote_consent=bool(values["remote_consent"]),
        remote_updated_at_us=values["remote_updated_at_us"],
        residue=Fraction(int(values["residue_num"]), int(values["residue_den"])),
        statement_seq=values["statement_seq"],
        statement_hash=values["statement_hash"],
        note=values["note"],
        created_at_us=values["created_at_us"],
        updated_at_us=values["updated_at_us"],
    )


# Built once and run on the DBAPI cursor (`exchange.sql`): every clearing request reads
# a link, and building the SELECT cost more than running it (bench/clearing.py).
_FIND_LINK = select(ct.links).where(ct.links.c.domain == bindparam("domain"))
_LOCK_LINK = _FIND_LINK.with_for_update()
_LINK_FIELDS = tuple(column.name for column in ct.links.c)


def find_link(conn: Connection, domain: str, *, lock: bool = False) -> Link | None:
    rows = sql.fetch_all(conn, _LOCK_LINK if lock else _FIND_LINK, {"domain": domain})
    return link_from_values(dict(zip(_LINK_FIELDS, rows[0], strict=True))) if rows else None


def get_link(conn: Connection, domain: str, *, lock: bool = False) -> Link:
    """The link with ``domain``; raises `UnknownPeer`."""
    link = find_link(conn, domain, lock=lock)
    if link is None:
        raise UnknownPeer(domain)
    return link


def active_link(conn: Connection, domain: str) -> Link:
    """The link with ``domain`` if it carries new transfers; raises `UnknownPeer`,
    `LinkNotActive`."""
    return check_active(get_link(conn, domain))


def check_active(link: Link) -> Link:
    """``link`` if it carries new transfers; raises `LinkNotActive`."""
    if not link.carries_new_transfers:
        raise LinkNotActive(link.domain, link.status.value)
    return link


def list_links(conn: Connection) -> list[Link]:
    rows = conn.execute(select(ct.links).order_by(ct.links.c.domain))
    return [link_from_row(row) for row in rows]


def _insert(conn: Connection, peer: PeerRef, now_us: int) -> None:
    conn.execute(
        ct.links.insert().values(
            domain=peer.domain,
            actor_uri=peer.actor_uri,
            inbox_url=peer.inbox_url,
            currency_code=peer.currency.code,
            currency_scale=peer.currency.scale,
            status=LinkStatus.PENDING.value,
            local_consent=False,
            remote_consent=False,
            remote_updated_at_us=0,
            residue_num="0",
            residue_den="1",
            statement_seq=0,
            statement_hash="",
            note="",
            created_at_us=now_us,
            updated_at_us=now_us,
        )
    )


def _consent(conn: Connection, peer: PeerRef, side: str, now_us: int) -> Link:
    link = find_link(conn, peer.domain, lock=True)
    if link is None:
        _insert(conn, peer, now_us)
        link = get_link(conn, peer.domain, lock=True)
    elif (link.currency_code, link.currency_scale) != (peer.currency.code, peer.currency.scale):
        raise InvalidRequest(f"{peer.domain} keeps {link.currency_code}; a currency never changes")
    values: dict[str, Any] = {
        side: True,
        "actor_uri": peer.actor_uri,
        "inbox_url": peer.inbox_url,
        "updated_at_us": now_us,
    }
    both = (link.local_consent or side == "local_consent") and (
        link.remote_consent or side == "remote_consent"
    )
    if link.status in (LinkStatus.PENDING, LinkStatus.ENDED):
        values["status"] = (LinkStatus.ACTIVE if both else LinkStatus.PENDING).value
    conn.execute(update(ct.links).where(ct.links.c.domain == peer.domain).values(**values))
    return get_link(conn, peer.domain)


def consent_locally(conn: Connection, peer: PeerRef, limits: Limits, now_us: int) -> Link:
    """This operator peers with ``peer`` (again) with ``limits`` on ``peer:<domain>``."""
    account_id = peer_account_id(peer.domain)
    if accounts.find_account(conn, account_id) is None:
        accounts.open_peer_account(conn, peer.domain, now_us, limits)
    else:
        accounts.set_limits(conn, account_id, limits, now_us)
    return _consent(conn, peer, "local_consent", now_us)


def consent_remotely(conn: Connection, peer: PeerRef, now_us: int) -> Link:
    """The peer asked for, or accepted, the link."""
    return _consent(conn, peer, "remote_consent", now_us)


def is_stale(conn: Connection, domain: str, sent_at_us: int) -> bool:
    """Whether a link message the peer wrote at ``sent_at_us`` is older than one we
    applied already; if not, it becomes the newest."""
    link = find_link(conn, domain, lock=True)
    if link is None:
        return False
    if sent_at_us < link.remote_updated_at_us:
        return True
    conn.execute(
        update(ct.links).where(ct.links.c.domain == domain).values(remote_updated_at_us=sent_at_us)
    )
    return False


def withdraw_remote_consent(conn: Connection, domain: str, now_us: int) -> Link:
    """The peer ended the link: it carries no new transfers from now on."""
    get_link(conn, domain, lock=True)
    conn.execute(
        update(ct.links)
        .where(ct.links.c.domain == domain)
        .values(remote_consent=False, status=LinkStatus.ENDED.value, updated_at_us=now_us)
    )
    return get_link(conn, domain)


#: For each status an operator (or reconciliation) may set, the statuses it may follow.
_ALLOWED_FROM = {
    LinkStatus.SUSPENDED: {LinkStatus.ACTIVE, LinkStatus.PENDING, LinkStatus.FROZEN},
    LinkStatus.ACTIVE: {LinkStatus.SUSPENDED, LinkStatus.FROZEN},
    LinkStatus.FROZEN: {LinkStatus.ACTIVE, LinkStatus.SUSPENDED},
    LinkStatus.ENDED: set(LinkStatus) - {LinkStatus.ENDED},
}


def set_status(
    conn: Connection, domain: str, status: LinkStatus, now_us: int, *, note: str = ""
) -> Link:
    """Suspend, resume (``active``), freeze or end a link; raises `UnknownPeer`,
    `InvalidRequest` (not from its present status)."""
    link = get_link(conn, domain, lock=True)
    if status is link.status:
        return link
    if link.status not in _ALLOWED_FROM.get(status, set()):
        raise InvalidRequest(f"a {link.status.value} link cannot become {status.value}")
    if status is LinkStatus.ACTIVE and not (link.local_consent and link.remote_consent):
        status = LinkStatus.PENDING
    values: dict[str, Any] = {"status": status.value, "updated_at_us": now_us, "note": note[:500]}
    if status is LinkStatus.ENDED:
        values["local_consent"] = False
    conn.execute(update(ct.links).where(ct.links.c.domain == domain).values(**values))
    return get_link(conn, domain)


def book_residue(
    conn: Connection, domain: str, residue: Fraction, reference: str, now_us: int
) -> None:
    """Add a committed leg's conversion residue to the link's; once it adds up to whole
    minor units, book them between ``peer:<domain>`` and ``rounding`` (transfer
    ``<reference>:rounding``). If the peer's limit is full, the residue waits."""
    link = get_link(conn, domain, lock=True)
    total = link.residue + residue
    whole = int(total)  # toward zero
    if whole:
        peer = peer_account_id(domain)
        debit, credit = (peer, ROUNDING) if whole > 0 else (ROUNDING, peer)
        request = TransferRequest(
            transfer_id=f"{reference}:rounding",
            debit_account_id=debit,
            credit_account_id=credit,
            amount_minor=abs(whole),
            currency_code=get_currency(conn).code,
            kind=TransferKind.ROUNDING,
            memo="rounding residue of conversions",
            reference=reference,
        )
        try:
            create_transfer(conn, request, now_us)
            total -= whole
        except LimitExceeded:
            pass  # the peer's limit is full: keep the residue for a later leg
    conn.execute(
        update(ct.links)
        .where(ct.links.c.domain == domain)
        .values(residue_num=str(total.numerator), residue_den=str(total.denominator))
    )
