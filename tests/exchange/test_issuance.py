"""New coinage: the community co-pays part of a new member's sales from issuance."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange.accounts import ISSUANCE, Limits, get_account, set_limits
from exchange.audit import audit
from exchange.errors import CreditLimitExceeded, IdempotencyConflict, UpperLimitExceeded
from exchange.issuance import Sale, copay_minor, pay_sale
from exchange.settings import get_settings, update_settings
from exchange.statements import get_statement
from exchange.transfers import TransferKind
from tests.exchange.conftest import T0
from tests.exchange.snapshots import ledger_snapshot


def sale(payment_id: str, price: int, buyer: str = "alice", seller: str = "bob", **kw) -> Sale:
    return Sale(payment_id, buyer, seller, price, "KRZ", **kw)


async def threshold(db, value: str) -> None:
    settings = await db.read(get_settings)
    changed = replace(settings, issuance_reputation_threshold=Decimal(value))
    await db.write(update_settings, changed, T0)


def test_copay_is_a_share_capped_by_allowance_and_price():
    """Co-pay = half-even share, at most the allowance, the buyer always pays something."""
    assert copay_minor(1_000, 5_000, 10_000, 4, Decimal(3)) == 500
    assert copay_minor(1_000, 5_000, 200, 4, Decimal(3)) == 200
    assert copay_minor(1_000, 5_000, 10_000, Decimal("2.99"), Decimal(3)) == 0
    assert copay_minor(3, 5_000, 10_000, 3, Decimal(3)) == 2  # 1.5 rounds to 2
    assert copay_minor(2, 10_000, 10_000, 3, Decimal(3)) == 1  # the buyer pays at least 1
    assert copay_minor(1, 10_000, 10_000, 3, Decimal(3)) == 0


async def test_the_seller_gets_the_price_and_the_buyer_pays_less(ledger):
    """With allowance left and a trusted buyer, issuance pays its share to the seller."""
    await threshold(ledger, "3")
    outcome = await ledger.write(pay_sale, sale("s1", 4_000, memo="bike"), Decimal(4), T0 + 1)
    assert (outcome.price_minor, outcome.copay_minor, outcome.buyer_paid_minor) == (
        4_000,
        2_000,
        2_000,
    )
    assert outcome.copay is not None and outcome.copay.kind is TransferKind.ISSUANCE
    bob = await ledger.read(get_account, "bob")
    assert (bob.balance_minor, bob.allowance_remaining_minor) == (4_000, 8_000)
    assert (await ledger.read(get_account, "alice")).balance_minor == -2_000
    assert (await ledger.read(get_account, ISSUANCE)).balance_minor == -2_000
    assert await ledger.read(audit) == []


async def test_both_legs_show_on_both_statements_under_one_reference(ledger):
    """The buyer's payment and the co-pay carry the payment id as reference."""
    await ledger.write(pay_sale, sale("s1", 4_000), 5, T0 + 1)
    bob = (await ledger.read(get_statement, "bob")).entries
    assert [(e.reference, e.kind, e.amount_minor) for e in bob] == [
        ("s1", TransferKind.ISSUANCE, 2_000),
        ("s1", TransferKind.PAYMENT, 2_000),
    ]
    alice = (await ledger.read(get_statement, "alice")).entries
    assert [(e.reference, e.amount_minor) for e in alice] == [("s1", -2_000)]


async def test_no_copay_below_the_reputation_threshold(ledger):
    """An untrusted buyer pays the whole price."""
    await threshold(ledger, "3.5")
    outcome = await ledger.write(pay_sale, sale("s1", 4_000), Decimal("3.4"), T0 + 1)
    assert (outcome.copay, outcome.buyer_paid_minor) == (None, 4_000)


async def test_the_allowance_runs_out(ledger):
    """Co-pays stop when the seller's allowance (100.00) is spent."""
    first = await ledger.write(pay_sale, sale("s1", 18_000), 5, T0 + 1)
    second = await ledger.write(pay_sale, sale("s2", 4_000, buyer="carol"), 5, T0 + 2)
    third = await ledger.write(pay_sale, sale("s3", 1_000, buyer="carol"), 5, T0 + 3)
    assert [o.copay_minor for o in (first, second, third)] == [9_000, 1_000, 0]
    assert (await ledger.read(get_account, "bob")).allowance_remaining_minor == 0
    assert await ledger.read(audit) == []


async def test_a_replayed_sale_changes_nothing_and_a_changed_one_conflicts(ledger):
    """Same payment id and parameters: the stored outcome; different ones: a conflict."""
    first = await ledger.write(pay_sale, sale("s1", 4_000), 5, T0 + 1)
    before = await ledger.read(ledger_snapshot)
    assert await ledger.write(pay_sale, sale("s1", 4_000), 0, T0 + 2) == first
    for changed in (
        sale("s1", 4_001),
        sale("s1", 4_000, buyer="carol"),
        sale("s1", 4_000, memo="x"),
    ):
        with pytest.raises(IdempotencyConflict):
            await ledger.write(pay_sale, changed, 5, T0 + 3)
    assert await ledger.read(ledger_snapshot) == before


async def test_limits_apply_to_what_each_side_moves(ledger):
    """The buyer's limit counts what the buyer pays; the seller's upper limit the price."""
    await ledger.write(set_limits, "alice", Limits(1_000), T0)
    outcome = await ledger.write(pay_sale, sale("s1", 2_000), 5, T0 + 1)
    assert outcome.buyer_paid_minor == 1_000
    with pytest.raises(CreditLimitExceeded):
        await ledger.write(pay_sale, sale("s2", 2), 5, T0 + 2)
    await ledger.write(set_limits, "carol", Limits(10_000, upper_limit_minor=1_500), T0)
    before = await ledger.read(ledger_snapshot)
    with pytest.raises(UpperLimitExceeded):
        await ledger.write(pay_sale, sale("s3", 2_000, buyer="bob", seller="carol"), 5, T0 + 3)
    assert await ledger.read(ledger_snapshot) == before
