"""Ledger fixtures: a migrated database with a community ledger and three members."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exchange.accounts import create_ledger, open_member_account
from exchange.money import Currency
from exchange.settings import LedgerSettings
from fediverse_share.database import Database

CURRENCY = Currency("KRZ", "Kreuzer", 2)
#: 2023-11-14T22:13:20Z: the clock of every ledger test starts here.
T0 = 1_700_000_000_000_000
MEMBERS = ("alice", "bob", "carol")


def quiet_settings(**changes: object) -> LedgerSettings:
    """Default settings with demurrage off, unless a test asks for it."""
    return replace(LedgerSettings.defaults(CURRENCY), **{"demurrage_rate_bps": 0, **changes})


@pytest.fixture
async def ledger(db: Database) -> Database:
    """The ``db`` fixture with a KRZ ledger (limit 100.00, no demurrage) and three members."""
    await db.write(create_ledger, CURRENCY, T0, quiet_settings())
    for name in MEMBERS:
        await db.write(open_member_account, name, T0)
    return db
