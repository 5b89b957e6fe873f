"""The values of a trade: parties, payment options, terms, states (DESIGN §4 "Trades").

A trade is an agreement between two parties about a listing: the **provider** offers the
thing or service, the **receiver** gets it. Who pays is explicit (`TradeProposal.payer`,
normally the receiver); the other party is the payee. A party is a local member (their
ledger account id) or, for cross-community trades, a remote actor (its URI): see `Party`.

The listing itself lives elsewhere; a trade keeps a reference to it (``ListingRef.ref``,
an id or a URI) and a snapshot of its title and kind, so the trade still reads well after
the listing changes or goes away.

Payment options (`PaymentOption`):

* ``fixed``: a price agreed up front, paid in the ledger after delivery;
* ``pay_what_you_feel``: the payer decides the amount (possibly zero) after delivery;
* ``gift``: nothing is paid;
* ``loan``: nothing is paid, the thing comes back by ``return_due_at_us``;
* ``rental``: a price agreed up front, and the thing comes back by ``return_due_at_us``;
* ``swap``: each side delivers something to the other; nothing is paid in the ledger.

Part of a price may be paid in national money outside the ledger (`OutsidePayment`,
``"EUR 5.00"``): it is recorded and shown, never booked. A ``fixed`` or ``rental``
price may be zero in the ledger when all of it is paid outside.

A priced trade with a member of another community is paid one of two ways. Through
clearing between the communities (DESIGN §5), when they have a path: the price is in
the currency of the listing's community, whose scale the trade keeps
(``clearing_scale``, set for these trades only), and the ``pay`` step cites the
clearing transfer that paid it (`exchange.trade_clearing`). On an offer that is what
its author, the payee, receives; on a need, what its author, the payer, sends from
their own currency (`Trade.price_is_sent`). Otherwise the whole price is noted as
paid outside the ledger (a price of zero here and an `OutsidePayment`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from exchange.errors import InvalidRequest
from exchange.money import Currency, check_amount
from exchange.transfers import check_id

#: A trade id leaves room for the ``trade:`` prefix of its payment's transfer id.
MAX_TRADE_ID_CHARS = 190
MAX_URI_CHARS = 2048
MAX_TITLE_CHARS = 200
MAX_REASON_CHARS = 500
PAYMENT_PREFIX = "trade:"
E = TypeVar("E", bound=StrEnum)

_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")
_OUTSIDE = re.compile(r"([A-Z][A-Z0-9]{1,15}) ([0-9]{1,15}(?:\.[0-9]{1,4})?)")


class PaymentOption(StrEnum):
    FIXED = "fixed"
    PAY_WHAT_YOU_FEEL = "pay_what_you_feel"
    GIFT = "gift"
    LOAN = "loan"
    RENTAL = "rental"
    SWAP = "swap"


#: Options whose price is agreed up front.
PRICED = frozenset({PaymentOption.FIXED, PaymentOption.RENTAL})
#: Options with a ``pay`` step.
PAYING = frozenset({PaymentOption.FIXED, PaymentOption.PAY_WHAT_YOU_FEEL, PaymentOption.RENTAL})
#: Options where the thing comes back (a ``returned`` step).
RETURNING = frozenset({PaymentOption.LOAN, PaymentOption.RENTAL})


class ListingKind(StrEnum):
    OFFER = "offer"
    NEED = "need"


class Role(StrEnum):
    PROVIDER = "provider"
    RECEIVER = "receiver"

    @property
    def other(self) -> Role:
        return Role.RECEIVER if self is Role.PROVIDER else Role.PROVIDER


class TradeState(StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    DELIVERED = "delivered"
    CONFIRMED = "confirmed"
    PAID = "paid"
    RETURNED = "returned"
    SETTLED = "settled"


@dataclass(frozen=True, slots=True)
class Party:
    """A local member (``account_id``) or a member of another community (``actor_uri``)."""

    account_id: str | None = None
    actor_uri: str | None = None

    def __post_init__(self) -> None:
        if (self.account_id is None) == (self.actor_uri is None):
            raise InvalidRequest("a party is either an account id or an actor URI")
        if self.account_id is not None:
            check_id(self.account_id, "account id")
        if self.actor_uri is not None:
            check_uri(self.actor_uri, "actor URI")

    @classmethod
    def local(cls, account_id: str) -> Party:
        return cls(account_id=account_id)

    @classmethod
    def remote(cls, actor_uri: str) -> Party:
        return cls(actor_uri=actor_uri)

    @property
    def is_remote(self) -> bool:
        return self.actor_uri is not None

    @property
    def ref(self) -> str:
        """The account id or the actor URI, for display and sorting."""
        return self.account_id if self.account_id is not None else str(self.actor_uri)


def parse_choice(choices: type[E], value: str) -> E:
    """``value`` as a member of the enum ``choices``; raises `InvalidRequest`."""
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise InvalidRequest(f"not one of {allowed}: {str(value)[:40]!r}") from None


def as_party(actor: Party | str) -> Party:
    """An actor given as a `Party`, or as a plain string: a local account id."""
    return actor if isinstance(actor, Party) else Party.local(actor)


def check_uri(value: str, what: str) -> str:
    """Return ``value`` if it is an http(s) URI of at most 2,048 printable ASCII characters."""
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= MAX_URI_CHARS
        and value.startswith(("https://", "http://"))
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )
    if not ok:
        raise InvalidRequest(f"an {what} is an http(s) URI of at most {MAX_URI_CHARS} characters")
    return value


def check_text(value: str | None, what: str, max_chars: int) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > max_chars):
        raise InvalidRequest(f"a {what} is at most {max_chars:,} characters")
    return value


@dataclass(frozen=True, slots=True)
class ListingRef:
    """The listing a trade is about: its id or URI, and a snapshot of title and kind."""

    ref: str
    title: str
    kind: ListingKind

    def __post_init__(self) -> None:
        if not isinstance(self.ref, str) or not 0 < len(self.ref) <= MAX_URI_CHARS:
            raise InvalidRequest("a listing reference is 1-2,048 characters")
        if not isinstance(self.title, str) or not 0 < len(self.title) <= MAX_TITLE_CHARS:
            raise InvalidRequest(f"a listing title is 1-{MAX_TITLE_CHARS} characters")
        object.__setattr__(self, "kind", parse_choice(ListingKind, self.kind))


@dataclass(frozen=True, slots=True)
class OutsidePayment:
    """An amount paid in national money outside the ledger (``EUR 5.00``): never booked."""

    currency: str
    amount: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str) or not _CODE.fullmatch(self.currency):
            raise InvalidRequest("an outside currency is 2-16 capital letters or digits")
        amount = self.amount
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise InvalidRequest("an outside amount is a positive decimal number")
        if _OUTSIDE.fullmatch(f"{self.currency} {amount}") is None:
            raise InvalidRequest("an outside amount has at most 15 digits and 4 decimals")


def parse_outside_payment(text: str) -> OutsidePayment:
    """Parse ``"EUR 5.00"`` (code, one space, a plain decimal)."""
    match = _OUTSIDE.fullmatch(text) if isinstance(text, str) and len(text) <= 40 else None
    if match is None:
        raise InvalidRequest(f"not an outside payment like 'EUR 5.00': {str(text)[:40]!r}")
    try:
        return OutsidePayment(match[1], Decimal(match[2]))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise InvalidRequest("not a decimal amount") from None


def render_outside_payment(outside: OutsidePayment) -> str:
    return f"{outside.currency} {outside.amount}"


@dataclass(frozen=True, slots=True)
class TradeProposal:
    """What the proposer asks the other party to agree to (checked on creation)."""

    trade_id: str
    listing: ListingRef
    option: PaymentOption
    provider: Party
    receiver: Party
    currency_code: str
    price_minor: int | None = None
    payer: Role = Role.RECEIVER
    outside: OutsidePayment | None = None
    return_due_at_us: int | None = None
    agreement_uri: str | None = None
    clearing_scale: int | None = None

    def __post_init__(self) -> None:
        check_trade_id(self.trade_id)
        # Accept the enums' string values too, and keep the enums.
        object.__setattr__(self, "option", parse_choice(PaymentOption, self.option))
        object.__setattr__(self, "payer", parse_choice(Role, self.payer))
        if self.provider == self.receiver:
            raise InvalidRequest("a trade needs two different parties")
        if self.provider.is_remote and self.receiver.is_remote:
            raise InvalidRequest("at least one party of a trade is a member here")
        if not isinstance(self.currency_code, str) or not _CODE.fullmatch(self.currency_code):
            raise InvalidRequest("a currency code is 2-16 capital letters or digits")
        if self.agreement_uri is not None:
            check_uri(self.agreement_uri, "agreement URI")
        self._check_price()
        returning = self.option in RETURNING
        if returning != (self.return_due_at_us is not None):
            raise InvalidRequest("loans and rentals, and only they, have a return date")
        if returning and type(self.return_due_at_us) is not int:
            raise InvalidRequest("a return date is an instant in microseconds")

    def _check_price(self) -> None:
        price, outside = self.price_minor, self.outside
        if self.option not in PRICED:
            if price is not None or outside is not None or self.clearing_scale is not None:
                raise InvalidRequest(f"a {self.option.value} trade has no agreed price")
            return
        if price is None:
            raise InvalidRequest(f"a {self.option.value} trade needs a price")
        check_amount(price, allow_zero=True)
        if price == 0 and outside is None:
            raise InvalidRequest("a price of zero needs an outside payment; or make it a gift")
        remote = self.provider.is_remote or self.receiver.is_remote
        if self.clearing_scale is None:
            if price and remote:
                raise InvalidRequest(
                    "a trade with another community is paid through clearing or outside"
                )
            return
        Currency(self.currency_code, self.currency_code, self.clearing_scale)  # checks it
        if not remote or not price or outside is not None:
            raise InvalidRequest(
                "only a price with another community, all of it, is paid through clearing"
            )


def check_trade_id(trade_id: str) -> str:
    check_id(trade_id, "trade id")
    if len(trade_id) > MAX_TRADE_ID_CHARS:
        raise InvalidRequest(f"a trade id is at most {MAX_TRADE_ID_CHARS} characters")
    return trade_id


def payment_transfer_id(trade_id: str) -> str:
    """The ledger payment of a trade: ``trade:<trade id>`` (so a retry is idempotent)."""
    return PAYMENT_PREFIX + trade_id


@dataclass(frozen=True, slots=True)
class Trade:
    """A trade as stored. ``paid_minor`` is what the payee received in the ledger
    (co-pay included), ``payment_id`` the id of that payment (``None`` if nothing was
    booked; for a trade paid through clearing, the clearing transfer's id);
    ``reason`` is the decline or cancel reason."""

    id: str
    listing: ListingRef
    option: PaymentOption
    state: TradeState
    provider: Party
    receiver: Party
    proposer: Role
    payer: Role
    currency_code: str
    price_minor: int | None
    outside: OutsidePayment | None
    return_due_at_us: int | None
    agreement_uri: str | None
    payment_id: str | None
    paid_minor: int | None
    reason: str | None
    created_at_us: int
    updated_at_us: int
    confirmed_at_us: int | None
    settled_at_us: int | None
    clearing_scale: int | None = None

    @property
    def is_cleared(self) -> bool:
        """Whether the price is paid through clearing (in ``currency_code``, maybe another
        community's currency, of scale ``clearing_scale``)."""
        return self.clearing_scale is not None

    @property
    def price_is_sent(self) -> bool:
        """Whether a price paid through clearing is what the payer sends, in the payer's
        currency (a need: its author pays in its own community's currency), rather than
        what the payee receives, in theirs (an offer)."""
        return self.is_cleared and self.listing.kind is ListingKind.NEED

    @property
    def payee(self) -> Role:
        return self.payer.other

    @property
    def is_remote(self) -> bool:
        return self.provider.is_remote or self.receiver.is_remote

    def party(self, role: Role) -> Party:
        return self.provider if role is Role.PROVIDER else self.receiver

    def role_of(self, party: Party) -> Role | None:
        if party == self.provider:
            return Role.PROVIDER
        if party == self.receiver:
            return Role.RECEIVER
        return None

    def is_overdue(self, now_us: int) -> bool:
        """Whether a lent or rented thing should have come back by now."""
        due = self.return_due_at_us
        waiting = self.state in (TradeState.CONFIRMED, TradeState.PAID, TradeState.DELIVERED)
        return due is not None and waiting and now_us > due
