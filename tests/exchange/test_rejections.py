"""Every refused operation raises its typed error and leaves the ledger exactly as it was."""

from __future__ import annotations

import pytest

from exchange.accounts import Limits, close_account, open_member_account, set_limits
from exchange.audit import audit
from exchange.errors import (
    AccountClosed,
    AccountExists,
    CreditLimitExceeded,
    IdempotencyConflict,
    InvalidAmount,
    InvalidRequest,
    LedgerError,
    LedgerNotReady,
    TransferExpired,
    TransferNotPending,
    UnknownAccount,
    UnknownTransfer,
    UpperLimitExceeded,
    WrongCurrency,
)
from exchange.issuance import Sale, pay_sale
from exchange.money import MAX_AMOUNT_MINOR
from exchange.pending import post_pending, void_pending
from exchange.transfers import TransferRequest, create_pending, create_transfer
from tests.exchange.conftest import T0
from tests.exchange.snapshots import ledger_snapshot

LATER = T0 + 10**10  # after the hold "h-old" expires


def pay(amount=100, debit="alice", credit="bob", transfer_id="new", currency="KRZ", **kw):
    return create_transfer, (
        TransferRequest(transfer_id, debit, credit, amount, currency, **kw),
        T0 + 5,
    )


REFUSALS = {
    "over the credit limit": (pay(10_201), CreditLimitExceeded),  # available is 2.00
    "over the upper limit": (pay(credit="carol"), UpperLimitExceeded),
    "wrong currency": (pay(currency="EUR"), WrongCurrency),
    "zero amount": (pay(0), InvalidAmount),
    "negative amount": (pay(-100), InvalidAmount),
    "amount beyond the maximum": (pay(MAX_AMOUNT_MINOR + 1), InvalidAmount),
    "float amount": (pay(1.5), InvalidAmount),
    "unknown payer": (pay(debit="mallory"), UnknownAccount),
    "unknown payee": (pay(credit="mallory"), UnknownAccount),
    "closed payer": (pay(debit="dave"), AccountClosed),
    "closed payee": (pay(credit="dave"), AccountClosed),
    "same account twice": (pay(credit="alice"), InvalidRequest),
    "id reused differently": (pay(transfer_id="t-old", amount=7), IdempotencyConflict),
    "reserved id prefix": (pay(transfer_id="demurrage:alice:2024-01"), InvalidRequest),
    "id too long": (pay(transfer_id="x" * 201), InvalidRequest),
    "memo too long": (pay(memo="x" * 501), InvalidRequest),
    "hold expiring in the past": (
        (create_pending, (TransferRequest("h", "alice", "bob", 1, "KRZ"), T0, T0 + 5)),
        InvalidRequest,
    ),
    "hold over the credit limit": (
        (create_pending, (TransferRequest("h", "alice", "bob", 10_201, "KRZ"), LATER, T0)),
        CreditLimitExceeded,
    ),
    "post of an unknown hold": ((post_pending, ("p", "nope", T0 + 5)), UnknownTransfer),
    "post of a non-pending transfer": ((post_pending, ("p", "t-old", T0 + 5)), TransferNotPending),
    "post after expiry": ((post_pending, ("p", "h-old", LATER)), TransferExpired),
    "void after expiry": ((void_pending, ("v", "h-old", LATER)), TransferExpired),
    "post beyond the hold": (
        (post_pending, ("p", "h-old", T0 + 5), {"amount_minor": 301}),
        InvalidAmount,
    ),
    "second resolution": ((void_pending, ("v", "h-done", T0 + 5)), TransferNotPending),
    "resolution id reused": ((void_pending, ("t-old", "h-old", T0 + 5)), IdempotencyConflict),
    "sale over the buyer's limit": (
        (pay_sale, (Sale("s", "alice", "bob", 30_000, "KRZ"), 0, T0 + 5)),
        CreditLimitExceeded,
    ),
    "sale in the wrong currency": (
        (pay_sale, (Sale("s", "alice", "bob", 100, "EUR"), 0, T0 + 5)),
        WrongCurrency,
    ),
    "sale to oneself": (
        (pay_sale, (Sale("s", "alice", "alice", 100, "KRZ"), 0, T0 + 5)),
        InvalidRequest,
    ),
    "account opened twice": ((open_member_account, ("alice", T0 + 5)), AccountExists),
    "system account id for a member": ((open_member_account, ("fees", T0 + 5)), InvalidRequest),
}


@pytest.fixture
async def busy_ledger(ledger):
    """A ledger with a posted transfer, an open hold, a resolved hold and a closed account."""
    await ledger.write(open_member_account, "dave", T0)
    await ledger.write(close_account, "dave", T0)
    await ledger.write(set_limits, "carol", Limits(10_000, upper_limit_minor=50), T0)
    await ledger.write(create_transfer, TransferRequest("t-old", "bob", "alice", 500, "KRZ"), T0)
    hold = TransferRequest("h-old", "alice", "bob", 300, "KRZ")
    await ledger.write(create_pending, hold, T0 + 10**9, T0)
    done = TransferRequest("h-done", "alice", "bob", 1, "KRZ")
    await ledger.write(create_pending, done, T0 + 10**9, T0)
    await ledger.write(void_pending, "v-done", "h-done", T0 + 1)
    return ledger


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_refused_operation_raises_its_error_and_changes_nothing(busy_ledger, case):
    """The typed error comes back with a stable code and the ledger snapshot is unchanged."""
    call, error = REFUSALS[case]
    fn, args, *rest = call
    kwargs = rest[0] if rest else {}
    before = await busy_ledger.read(ledger_snapshot)
    with pytest.raises(error) as raised:
        await busy_ledger.write(fn, *args, **kwargs)
    assert isinstance(raised.value, LedgerError)
    assert raised.value.code == error.code and raised.value.message
    assert await busy_ledger.read(ledger_snapshot) == before
    assert await busy_ledger.read(audit) == []


async def test_nothing_works_before_the_ledger_exists(db):
    """Without a currency, ledger operations raise LedgerNotReady."""
    with pytest.raises(LedgerNotReady):
        await db.write(open_member_account, "alice", T0)
    with pytest.raises(LedgerNotReady):
        await db.write(create_transfer, TransferRequest("t", "a", "b", 1, "KRZ"), T0)
