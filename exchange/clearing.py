"""Clearing legs: this community's part of a transfer between communities (DESIGN §5).

A cross-community transfer follows a path of communities, payer's first, payee's last.
Each community books one *leg* in its own ledger, in its own units:

* the payer's community: member -> ``peer:<next>`` (what the member pays);
* a community in between: ``peer:<previous>`` -> ``peer:<next>``;
* the payee's community: ``peer:<previous>`` -> member.

A community with an upstream converts what arrives (in the upstream's units) at its own
posted rate (`exchange.rates.convert_in`): ``gross`` is debited from
``peer:<previous>``, of which ``fee`` goes to ``fees`` and ``out`` goes on. Every
ledger stays zero-sum and no money is created: each community only books its own
units, and the two sides of a link record the same pair of amounts.

A leg is `prepare`d as pending transfers (holds) with an expiry, then `commit`ted with
the preimage of the transfer's SHA-256 condition (posting the holds), or `abort`ed
(voiding them), or left to expire. Every function is idempotent by transfer id: the
same request again returns the stored leg, another request with the same id raises
`LegConflict`. A leg that learns of a downstream commit after its own holds expired
becomes ``in_doubt``: reconciliation brings it to an operator; it is never guessed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update

from exchange import clearing_tables as ct
from exchange import peers, rates, sql
from exchange.accounts import FEES, peer_account_id
from exchange.booking import TransferKind
from exchange.errors import (
    InvalidAmount,
    InvalidRequest,
    LegConflict,
    LegNotPrepared,
    UnknownLeg,
    WrongFulfilment,
)
from exchange.money import check_amount
from exchange.pending import post_pending, void_pending
from exchange.settings import get_currency
from exchange.transfers import TransferRequest, check_memo, create_pending, create_transfer

CONDITION_HEX = 64


class LegRole(StrEnum):
    PAYER = "payer"
    HOP = "hop"
    PAYEE = "payee"


class LegState(StrEnum):
    PREPARED = "prepared"
    COMMITTED = "committed"
    ABORTED = "aborted"
    EXPIRED = "expired"
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True, slots=True)
class LegRequest:
    """What a community is asked to hold for a transfer.

    ``upstream``/``downstream`` are the neighbouring communities' domains (``None`` at
    the ends). The payer's community gives ``payer_account_id`` and ``amount_minor`` (in
    its units); the others give ``amount_minor`` as the upstream booked it (in the
    upstream's units) and may cite ``rate_id``. ``payee_account_id`` is set at the end;
    ``deliver`` is what the payee must receive as the payer's side wrote it (kept to
    send on); the payee's community reads it into ``deliver_minor``. ``path``
    lists the communities' domains, payer's first; ``rate_ids`` the quote each cited.
    """

    transfer_id: str
    condition: str
    expires_at_us: int
    destination: str
    deliver: str
    amount_minor: int
    path: tuple[str, ...]
    rate_ids: Mapping[str, str]
    memo: str = ""
    upstream: str | None = None
    downstream: str | None = None
    payer_account_id: str | None = None
    payee_account_id: str | None = None
    deliver_minor: int | None = None
    rate_id: str | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    transfer_id: str
    ref: str
    role: LegRole
    state: LegState
    upstream_domain: str | None
    downstream_domain: str | None
    debit_account_id: str
    credit_account_id: str
    amount_in_minor: int | None
    gross_minor: int
    fee_minor: int
    out_minor: int
    downstream_gross_minor: int | None
    rate_id: str | None
    residue: Fraction
    condition: str
    fulfilment: str | None
    destination: str
    deliver: str
    deliver_minor: int | None
    path: tuple[str, ...]
    rate_ids: Mapping[str, str]
    expires_at_us: int
    memo: str
    error_code: str | None
    created_at_us: int
    updated_at_us: int

    @property
    def main_id(self) -> str:
        return f"{self.ref}:main"

    @property
    def fee_id(self) -> str:
        return f"{self.ref}:fee"


def leg_ref(transfer_id: str) -> str:
    """``clr:`` and 40 hex digits of SHA-256(transfer id): ids of the leg's transfers."""
    return "clr:" + hashlib.sha256(transfer_id.encode()).hexdigest()[:40]


def condition_of(fulfilment_hex: str) -> str:
    """The SHA-256 condition a 32-byte fulfilment (hex) satisfies."""
    try:
        raw = bytes.fromhex(fulfilment_hex)
    except (TypeError, ValueError):
        raise InvalidRequest("a fulfilment is 64 hex digits") from None
    if len(raw) != 32:
        raise InvalidRequest("a fulfilment is 64 hex digits")
    return hashlib.sha256(raw).hexdigest()


def _check_condition(condition: str) -> str:
    if not isinstance(condition, str) or len(condition) != CONDITION_HEX:
        raise InvalidRequest("a condition is 64 hex digits")
    try:
        bytes.fromhex(condition)
    except ValueError:
        raise InvalidRequest("a condition is 64 hex digits") from None
    return condition.lower()


def leg_from_row(row: Any) -> Leg:
    return _leg_from_values(row._mapping)


def _leg_from_values(values: Mapping[str, Any]) -> Leg:
    return Leg(
        transfer_id=values["transfer_id"],
        ref=values["ref"],
        role=LegRole(values["role"]),
        state=LegState(values["state"]),
        upstream_domain=values["upstream_domain"],
        downstream_domain=values["downstream_domain"],
        debit_account_id=values["debit_account_id"],
        credit_account_id=values["credit_account_id"],
        amount_in_minor=values["amount_in_minor"],
        gross_minor=values["gross_minor"],
        fee_minor=values["fee_minor"],
        out_minor=values["out_minor"],
        downstream_gross_minor=values["downstream_gross_minor"],
        rate_id=values["rate_id"],
        residue=Fraction(int(values["residue_num"]), int(values["residue_den"])),
        condition=values["condition"],
        fulfilment=values["fulfilment"],
        destination=values["destination"],
        deliver=values["deliver"],
        deliver_minor=values["deliver_minor"],
        path=tuple(json.loads(values["path"])),
        rate_ids=json.loads(values["rate_ids"]),
        expires_at_us=values["expires_at_us"],
        memo=values["memo"],
        error_code=values["error_code"],
        created_at_us=values["created_at_us"],
        updated_at_us=values["updated_at_us"],
    )


# The statements of every settlement step, built once and run on the DBAPI cursor
# (`exchange.sql`): building and running them through SQLAlchemy cost more than the
# database's work (bench/clearing.py).
_L = ct.legs
_LEG_FIELDS = tuple(column.name for column in _L.c)
_FIND_LEG = select(_L).where(_L.c.transfer_id == bindparam("transfer_id"))
_LOCK_LEG = _FIND_LEG.with_for_update()
_INSERT_LEG = _L.insert()
#: What a leg's later steps change (`set_state`).
_MUTABLE = ("state", "fulfilment", "downstream_gross_minor", "error_code", "updated_at_us")
_UPDATE_LEG = (
    update(_L)
    .where(_L.c.transfer_id == bindparam("b_transfer_id"))
    .values({name: bindparam(f"b_{name}") for name in _MUTABLE})
)


def leg_from_raw(values: Sequence[Any]) -> Leg:
    """A leg from a raw row of ``clearing_legs`` (`exchange.sql`: the table's columns, in
    its order)."""
    return _leg_from_values(dict(zip(_LEG_FIELDS, values, strict=True)))


def find_leg(conn: Connection, transfer_id: str, *, lock: bool = False) -> Leg | None:
    rows = sql.fetch_all(conn, _LOCK_LEG if lock else _FIND_LEG, {"transfer_id": transfer_id})
    return leg_from_raw(rows[0]) if rows else None


def get_leg(conn: Connection, transfer_id: str, *, lock: bool = False) -> Leg:
    """The leg of ``transfer_id``; raises `UnknownLeg`."""
    leg = find_leg(conn, transfer_id, lock=lock)
    if leg is None:
        raise UnknownLeg(transfer_id)
    return leg


def _role(request: LegRequest) -> LegRole:
    if request.upstream is None:
        return LegRole.PAYER
    return LegRole.PAYEE if request.downstream is None else LegRole.HOP


def _accounts(request: LegRequest, role: LegRole) -> tuple[str, str]:
    if role is LegRole.PAYER:
        if request.payer_account_id is None or request.downstream is None:
            raise InvalidRequest("the payer's leg needs the payer and the next community")
        return request.payer_account_id, peer_account_id(request.downstream)
    assert request.upstream is not None
    if role is LegRole.PAYEE:
        if request.payee_account_id is None:
            raise InvalidRequest("the payee's leg needs the payee")
        return peer_account_id(request.upstream), request.payee_account_id
    assert request.downstream is not None
    return peer_account_id(request.upstream), peer_account_id(request.downstream)


def _convert(
    conn: Connection, request: LegRequest, upstream: peers.Link | None, now_us: int
) -> tuple[rates.Conversion, str | None]:
    """The leg's amounts here: as paid by the payer, or converted from the upstream."""
    if upstream is None:
        amount = check_amount(request.amount_minor)
        return rates.Conversion(amount, amount, 0, Fraction(0)), None
    link = upstream
    rate = rates.rate_for(conn, link.currency_code, request.rate_id, now_us)
    scale = get_currency(conn).scale
    return rates.convert_within(request.amount_minor, rate, scale, link.currency_scale), rate.id


def _same_request(leg: Leg, request: LegRequest) -> bool:
    """Whether ``request`` is the one that prepared ``leg`` (a replay): every field the
    leg keeps, including whose money it moves, its expiry, memo and the rates cited."""
    role = _role(request)
    try:
        accounts = _accounts(request, role)
    except InvalidRequest:
        return False
    amount = leg.gross_minor if leg.role is LegRole.PAYER else leg.amount_in_minor
    return (
        leg.role is role
        and (leg.debit_account_id, leg.credit_account_id) == accounts
        and leg.condition == request.condition.lower()
        and leg.upstream_domain == request.upstream
        and leg.downstream_domain == request.downstream
        and leg.destination == request.destination
        and leg.deliver == request.deliver
        and (role is not LegRole.PAYEE or leg.deliver_minor == request.deliver_minor)
        and leg.path == tuple(request.path)
        and leg.rate_ids == dict(request.rate_ids)
        and request.rate_id in (None, leg.rate_id)
        and leg.expires_at_us == request.expires_at_us
        and leg.memo == request.memo
        and amount == request.amount_minor
    )


def prepare(
    conn: Connection, request: LegRequest, now_us: int, *, fulfilment: str | None = None
) -> Leg:
    """Hold this community's leg of a transfer until ``request.expires_at_us``.

    With ``fulfilment`` (the payee's community, which commits as soon as it prepares)
    the leg is booked committed at once: posted transfers instead of holds that would be
    posted in the same database transaction. Raises `WrongFulfilment` if it is not the
    condition's.

    Raises `UnknownPeer`, `LinkNotActive` (new transfers only: a replay of a prepared
    leg is answered), `NoRate`, `RateExpired`, `AmountOverQuote`, `InvalidAmount`
    (including a payee's leg that would deliver less than asked), the ledger's limit and
    account errors, `LegConflict`.
    """
    existing = find_leg(conn, request.transfer_id)
    if existing is not None:
        if not _same_request(existing, request):
            raise LegConflict(request.transfer_id)
        return existing
    return prepare_new(conn, request, now_us, fulfilment=fulfilment)


def prepare_new(
    conn: Connection,
    request: LegRequest,
    now_us: int,
    *,
    fulfilment: str | None = None,
    links: Mapping[str, peers.Link] | None = None,
) -> Leg:
    """`prepare` a transfer the caller found no leg of in this database transaction.

    ``links`` are links with the neighbours the caller read in this transaction (each
    is read here otherwise). The leg's row is written first and the ledger's transfers
    last, so that the rows of the accounts they lock (``peer:<domain>`` is shared by
    every transfer on a link) stay locked for the fewest statements.
    """
    _check_condition(request.condition)
    check_memo(request.memo)
    role = _role(request)
    if role is LegRole.PAYEE and request.deliver_minor is None:
        raise InvalidRequest("the payee's leg needs the amount the payee is owed")
    known = dict(links or {})
    for domain in (request.upstream, request.downstream):
        if domain is not None:
            known[domain] = peers.check_active(known.get(domain) or peers.get_link(conn, domain))
    debit, credit = _accounts(request, role)
    upstream = None if request.upstream is None else known[request.upstream]
    conversion, rate_id = _convert(conn, request, upstream, now_us)
    if role is LegRole.PAYEE and conversion.out_minor < check_amount(request.deliver_minor or 0):
        raise InvalidAmount("the amount sent does not deliver what the payee is owed")
    ref = leg_ref(request.transfer_id)
    state = LegState.PREPARED
    if fulfilment is not None:
        if condition_of(fulfilment) != request.condition.lower():
            raise WrongFulfilment(request.transfer_id)
        state = LegState.COMMITTED
    values = {
        "transfer_id": request.transfer_id,
        "ref": ref,
        "role": role.value,
        "state": state.value,
        "upstream_domain": request.upstream,
        "downstream_domain": request.downstream,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount_in_minor": None if role is LegRole.PAYER else request.amount_minor,
        "gross_minor": conversion.gross_minor,
        "fee_minor": conversion.fee_minor,
        "out_minor": conversion.out_minor,
        "downstream_gross_minor": None,
        "rate_id": rate_id,
        "residue_num": str(conversion.residue.numerator),
        "residue_den": str(conversion.residue.denominator),
        "condition": request.condition.lower(),
        "fulfilment": None if fulfilment is None else fulfilment.lower(),
        "destination": request.destination,
        "deliver": request.deliver,
        "deliver_minor": request.deliver_minor if role is LegRole.PAYEE else None,
        "path": json.dumps(list(request.path)),
        "rate_ids": json.dumps(dict(request.rate_ids), sort_keys=True),
        "expires_at_us": request.expires_at_us,
        "memo": request.memo,
        "error_code": None,
        "created_at_us": now_us,
        "updated_at_us": now_us,
    }
    sql.fetch_all(conn, _INSERT_LEG, values)
    parts = [("main", credit, conversion.out_minor), ("fee", FEES, conversion.fee_minor)]
    for part, to, amount in parts:
        if amount:
            _book(conn, ref, debit, to, amount, request, now_us, part, hold=fulfilment is None)
    leg = _leg_from_values(values)
    if state is LegState.COMMITTED:
        _book_residue(conn, leg, now_us, upstream)
    return leg


def _book_residue(
    conn: Connection, leg: Leg, now_us: int, upstream: peers.Link | None = None
) -> None:
    """Add a committed leg's conversion residue to its upstream link's (`upstream` if
    read in this transaction). A leg that converted exactly changes nothing there, and
    its link's row is not even locked, unless the link keeps whole units waiting for
    room on a full limit: then this leg books them."""
    if leg.upstream_domain is None:
        return
    if not leg.residue:
        link = upstream or peers.get_link(conn, leg.upstream_domain)
        if abs(link.residue) < 1:
            return
    peers.book_residue(conn, leg.upstream_domain, leg.residue, leg.ref, now_us)


def _book(
    conn: Connection,
    ref: str,
    debit: str,
    credit: str,
    amount_minor: int,
    request: LegRequest,
    now_us: int,
    part: str,
    *,
    hold: bool,
) -> None:
    """Hold a part of the leg (``<ref>:main``, ``<ref>:fee``), or post it at once
    under the id its hold's posting would have (``<ref>:post``, ``<ref>:fee-post``)."""
    posted_id = f"{ref}:post" if part == "main" else f"{ref}:fee-post"
    transfer = TransferRequest(
        transfer_id=f"{ref}:{part}" if hold else posted_id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount_minor=amount_minor,
        currency_code=get_currency(conn).code,
        kind=TransferKind.CLEARING if part == "main" else TransferKind.FEE,
        memo=request.memo,
        reference=ref,
    )
    if hold:
        create_pending(conn, transfer, request.expires_at_us, now_us)
    else:
        create_transfer(conn, transfer, now_us)


def set_state(conn: Connection, leg: Leg, state: LegState, now_us: int, **values: Any) -> Leg:
    """Move ``leg`` (as read under its lock) to ``state``, with other columns of the leg
    that change (``fulfilment``, ``downstream_gross_minor``, ``error_code``) in
    ``values``; returns the leg as now stored (without reading it back)."""
    changed = dataclasses.replace(leg, state=state, updated_at_us=now_us, **values)
    params = {f"b_{name}": getattr(changed, name) for name in _MUTABLE}
    params["b_state"] = state.value
    params["b_transfer_id"] = leg.transfer_id
    sql.fetch_all(conn, _UPDATE_LEG, params)
    return changed


def _holds_open(leg: Leg, now_us: int) -> bool:
    """Whether a prepared leg's holds are still held: they expire with the leg (the
    ledger refuses to post or void them from then on), and only `commit` and `abort`
    resolve them before."""
    return now_us < leg.expires_at_us


def commit(
    conn: Connection,
    transfer_id: str,
    fulfilment: str,
    now_us: int,
    *,
    downstream_gross_minor: int | None = None,
) -> Leg:
    """Post a prepared leg whose condition ``fulfilment`` satisfies.

    If the holds have expired meanwhile (or the leg was marked expired), the leg becomes
    ``in_doubt`` (with the fulfilment kept) instead: money moved downstream that did not
    move here. Raises `UnknownLeg`, `WrongFulfilment`, `LegNotPrepared` (aborted).
    """
    leg = get_leg(conn, transfer_id, lock=True)
    if condition_of(fulfilment) != leg.condition:
        raise WrongFulfilment(transfer_id)
    if leg.state in (LegState.COMMITTED, LegState.IN_DOUBT):
        return leg
    if leg.state is LegState.ABORTED:  # its holds were voided, not expired: too late
        raise LegNotPrepared(transfer_id, leg.state.value)
    values: dict[str, Any] = {"fulfilment": fulfilment.lower()}
    if downstream_gross_minor is not None:
        values["downstream_gross_minor"] = downstream_gross_minor
    if leg.state is LegState.EXPIRED or not _holds_open(leg, now_us):
        return set_state(conn, leg, LegState.IN_DOUBT, now_us, **values)
    committed = set_state(conn, leg, LegState.COMMITTED, now_us, **values)
    # The holds last: posting them locks the accounts (see `prepare_new`).
    post_pending(conn, f"{leg.ref}:post", leg.main_id, now_us)
    if leg.fee_minor:
        post_pending(conn, f"{leg.ref}:fee-post", leg.fee_id, now_us)
    _book_residue(conn, leg, now_us)
    return committed


def abort(conn: Connection, transfer_id: str, code: str, now_us: int) -> Leg:
    """Release a prepared leg (a downstream refused, or the payer gave up).

    An aborted or expired leg is returned as it is; raises `UnknownLeg`,
    `LegNotPrepared` (committed or in doubt: too late).
    """
    leg = get_leg(conn, transfer_id, lock=True)
    if leg.state in (LegState.ABORTED, LegState.EXPIRED):
        return leg
    if leg.state is not LegState.PREPARED:
        raise LegNotPrepared(transfer_id, leg.state.value)
    if _holds_open(leg, now_us):
        void_pending(conn, f"{leg.ref}:void", leg.main_id, now_us)
        if leg.fee_minor:
            void_pending(conn, f"{leg.ref}:fee-void", leg.fee_id, now_us)
        return set_state(conn, leg, LegState.ABORTED, now_us, error_code=code[:40])
    return set_state(conn, leg, LegState.EXPIRED, now_us, error_code=code[:40])


def mark_expired(conn: Connection, transfer_id: str, now_us: int) -> Leg:
    """A prepared leg past its expiry whose downstream did not commit: expired. Its
    holds are released by the ledger's expiry (`exchange.pending.expire_pending`)."""
    leg = get_leg(conn, transfer_id, lock=True)
    if leg.state is not LegState.PREPARED or now_us < leg.expires_at_us:
        return leg
    return set_state(conn, leg, LegState.EXPIRED, now_us, error_code="expired")


def list_legs(
    conn: Connection,
    *,
    states: tuple[LegState, ...] = (),
    domain: str | None = None,
    limit: int = 1000,
) -> list[Leg]:
    """Legs in ``states`` (all if empty) on links with ``domain`` (all if ``None``)."""
    query = select(ct.legs).order_by(ct.legs.c.created_at_us, ct.legs.c.transfer_id)
    if states:
        query = query.where(ct.legs.c.state.in_([s.value for s in states]))
    if domain is not None:
        query = query.where(
            or_(ct.legs.c.upstream_domain == domain, ct.legs.c.downstream_domain == domain)
        )
    return [leg_from_row(row) for row in conn.execute(query.limit(limit))]
