"""The application's side of the community ledger (`exchange`): creating it, opening
members' accounts, and the ledger's background work."""

from __future__ import annotations

from sqlalchemy import Connection

from exchange import accounts, demurrage, pending
from exchange.money import Currency
from exchange.settings import find_currency
from fediverse_share.clock import now_us
from fediverse_share.database import Database
from fediverse_share.errors import ConfigError
from fediverse_share.runtime import Runtime
from fediverse_share.settings import Settings

BATCH = 500


def _ensure(conn: Connection, currency: Currency, at_us: int) -> bool:
    existing = find_currency(conn)
    if existing is None:
        accounts.create_ledger(conn, currency, at_us)
        return True
    if existing.code != currency.code or existing.scale != currency.scale:
        raise ConfigError(
            f"this community's currency is {existing.code} (scale {existing.scale}); "
            "a currency cannot change once members hold it"
        )
    return False


async def ensure_currency(settings: Settings, code: str, name: str, scale: int) -> bool:
    """Create the community's currency and system accounts once; check it after."""
    db = Database(settings.database_url, schema=settings.database_schema)
    try:
        return await db.write(_ensure, Currency(code.upper(), name, scale), now_us())
    finally:
        await db.close()


def open_member_account(conn: Connection, username: str, at_us: int) -> None:
    accounts.open_member_account(conn, username, at_us)


async def expire_holds(runtime: Runtime) -> int:
    """Worker step: release holds whose expiry has passed."""
    released = await runtime.db.write(pending.expire_pending, runtime.now_us(), limit=BATCH)
    return len(released)


async def settle_demurrage(runtime: Runtime) -> int:
    """Worker step: charge demurrage for the periods that have ended."""
    run = await runtime.db.write(demurrage.run_demurrage, runtime.now_us(), limit=BATCH)
    return run.accounts_settled
