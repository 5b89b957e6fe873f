"""New coinage: the community co-pays part of a new member's sales from ``issuance``.

The rule, precisely. A sale is a payment by one member (the buyer) to another (the
seller) for a trade. Given the price and the buyer's reputation score (computed
elsewhere and passed in):

* ``copay = min(round_half_even(price x issuance_copay_bps / 10,000),
  seller's remaining allowance, price - 1)`` if the buyer's score is at or above
  ``issuance_reputation_threshold``, else 0;
* the buyer pays ``price - copay`` (transfer id: the payment id, kind ``payment``);
* the ``issuance`` account pays ``copay`` (transfer id ``copay:<payment id>``, kind
  ``issuance``), and the seller's remaining allowance shrinks by it.

So **the seller always receives the full price**, the buyer pays less, and the money
supply grows by the co-pay (``issuance`` runs negative by exactly the coinage issued).
The buyer always pays at least one minor unit, so every sale has its buyer transfer
and a replay can be recognised from it. Both transfers carry the payment id as their
``reference``, so both show on the buyer's and the seller's statements next to each
other. The buyer's credit limit is checked against what the buyer pays; the seller's
upper limit against the whole price.

Replaying a sale with the same payment id and parameters returns the stored outcome
(whatever the buyer's reputation is now); other parameters raise `IdempotencyConflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, select

from exchange import tables
from exchange.accounts import ISSUANCE, AccountKind
from exchange.booking import AccountState, Booking, Phase, Transfer, TransferKind, transfer_from_row
from exchange.demurrage import settle_due
from exchange.errors import IdempotencyConflict, InvalidRequest
from exchange.money import apply_bps, check_amount
from exchange.transfers import check_id, check_memo


@dataclass(frozen=True, slots=True)
class Sale:
    """A member paying another member ``price_minor`` for a trade."""

    payment_id: str
    buyer_account_id: str
    seller_account_id: str
    price_minor: int
    currency_code: str
    memo: str = ""


@dataclass(frozen=True, slots=True)
class SaleOutcome:
    """The booked sale: the buyer's transfer and the community's co-pay, if any."""

    payment: Transfer
    copay: Transfer | None

    @property
    def price_minor(self) -> int:
        return self.payment.amount_minor + self.copay_minor

    @property
    def copay_minor(self) -> int:
        return 0 if self.copay is None else self.copay.amount_minor

    @property
    def buyer_paid_minor(self) -> int:
        return self.payment.amount_minor


def copay_minor(
    price_minor: int,
    copay_bps: int,
    allowance_remaining_minor: int,
    buyer_reputation: Decimal | int,
    reputation_threshold: Decimal,
) -> int:
    """The community's share of a sale (see the module docstring)."""
    if buyer_reputation < reputation_threshold or price_minor < 2:
        return 0
    share = apply_bps(price_minor, copay_bps)
    return max(0, min(share, allowance_remaining_minor, price_minor - 1))


def copay_transfer_id(payment_id: str) -> str:
    return f"copay:{payment_id}"


def _check_sale(sale: Sale) -> None:
    check_id(sale.payment_id)
    check_id(sale.buyer_account_id, "account id")
    check_id(sale.seller_account_id, "account id")
    check_amount(sale.price_minor)
    check_memo(sale.memo)
    if sale.buyer_account_id == sale.seller_account_id:
        raise InvalidRequest("a member cannot sell to themselves")


def _find_outcome(conn: Connection, payment_id: str) -> SaleOutcome | None:
    t = tables.transfers
    ids = (payment_id, copay_transfer_id(payment_id))
    found = {
        row.id: transfer_from_row(row) for row in conn.execute(select(t).where(t.c.id.in_(ids)))
    }
    payment = found.get(payment_id)
    if payment is None:
        return None
    return SaleOutcome(payment, found.get(copay_transfer_id(payment_id)))


def _same_sale(outcome: SaleOutcome, sale: Sale) -> bool:
    payment = outcome.payment
    return (
        payment.phase is Phase.SINGLE
        and payment.kind is TransferKind.PAYMENT
        and payment.debit_account_id == sale.buyer_account_id
        and payment.credit_account_id == sale.seller_account_id
        and payment.reference == sale.payment_id
        and payment.memo == sale.memo
        and outcome.price_minor == sale.price_minor
    )


def pay_sale(
    conn: Connection, sale: Sale, buyer_reputation: Decimal | int, now_us: int
) -> SaleOutcome:
    """Book a sale with the community's co-pay (see the module docstring).

    Raises `InvalidRequest`/`InvalidAmount`, `WrongCurrency`, `UnknownAccount`,
    `AccountClosed`, `CreditLimitExceeded` (buyer), `UpperLimitExceeded` (seller),
    `IdempotencyConflict`.
    """
    _check_sale(sale)
    ids = (sale.buyer_account_id, sale.seller_account_id, ISSUANCE)
    booking = Booking.lock(conn, ids, now_us)
    booking.check_currency(sale.currency_code)
    stored = _find_outcome(conn, sale.payment_id)  # under the locks: no concurrent twin
    if stored is not None:
        if not _same_sale(stored, sale):
            raise IdempotencyConflict(sale.payment_id)
        return stored
    buyer, seller, issuance = (booking.open_account(i) for i in ids)
    if buyer.kind != AccountKind.MEMBER.value or seller.kind != AccountKind.MEMBER.value:
        raise InvalidRequest("a sale is between two members' accounts")
    settle_due(booking, buyer)
    settle_due(booking, seller)
    settings = booking.settings
    copay = copay_minor(
        sale.price_minor,
        settings.issuance_copay_bps,
        seller.allowance_remaining_minor,
        buyer_reputation,
        settings.issuance_reputation_threshold,
    )
    booking.check_limits(buyer, seller, sale.price_minor - copay)
    booking.check_limits(issuance, seller, sale.price_minor)  # the seller gets it all
    outcome = _book_sale(booking, sale, buyer, seller, issuance, copay)
    booking.flush()
    return outcome


def _book_sale(
    booking: Booking,
    sale: Sale,
    buyer: AccountState,
    seller: AccountState,
    issuance: AccountState,
    copay: int,
) -> SaleOutcome:
    def leg(transfer_id: str, kind: TransferKind, debit: AccountState, amount: int) -> Transfer:
        transfer = booking.record(
            transfer_id=transfer_id,
            phase=Phase.SINGLE,
            kind=kind,
            debit=debit,
            credit=seller,
            amount_minor=amount,
            memo=sale.memo,
            reference=sale.payment_id,
            idempotent=False,
        )
        assert transfer is not None
        return transfer

    payment = leg(sale.payment_id, TransferKind.PAYMENT, buyer, sale.price_minor - copay)
    if not copay:
        return SaleOutcome(payment, None)
    seller.allowance_remaining_minor -= copay
    copaid = leg(copay_transfer_id(sale.payment_id), TransferKind.ISSUANCE, issuance, copay)
    return SaleOutcome(payment, copaid)
