"""Community ledger settings: limits for new members, issuance and demurrage rules.

One row in ``ledger_settings``, read with `get_settings` and replaced as a whole with
`update_settings` (build the new value with ``dataclasses.replace``).

* Limits: ``default_credit_limit_minor`` (how far below zero a new member may go),
  ``default_soft_limit_minor`` (a warning threshold, at most the credit limit) and
  ``default_upper_limit_minor`` (``None``: no upper limit). They are *copied* into each
  member account when it is opened; changing them does not change existing accounts
  (use `exchange.accounts.set_limits` for those).
* Issuance: each new member gets ``issuance_allowance_minor``; when they sell, the
  community co-pays ``issuance_copay_bps`` of the price if the buyer's reputation is at
  least ``issuance_reputation_threshold`` (see `exchange.issuance`).
* Demurrage: ``demurrage_rate_bps`` per ``demurrage_period`` on the part of a member's
  available balance above ``demurrage_free_threshold_minor`` (see `exchange.demurrage`).
  Periods that end while the rate is zero are never charged: turning demurrage on (or
  changing the period) starts charging with the current period.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, select, update

from exchange import tables
from exchange.errors import InvalidSettings, LedgerNotReady
from exchange.money import BPS, MAX_AMOUNT_MINOR, Currency
from exchange.periods import Period, period_start_us


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    default_credit_limit_minor: int
    default_soft_limit_minor: int
    default_upper_limit_minor: int | None
    issuance_allowance_minor: int
    issuance_copay_bps: int
    issuance_reputation_threshold: Decimal
    demurrage_rate_bps: int
    demurrage_period: Period
    demurrage_free_threshold_minor: int

    def __post_init__(self) -> None:
        amounts = (
            self.default_credit_limit_minor,
            self.default_soft_limit_minor,
            self.issuance_allowance_minor,
            self.demurrage_free_threshold_minor,
        )
        if any(not 0 <= a <= MAX_AMOUNT_MINOR for a in amounts):
            raise InvalidSettings("limits, allowance and threshold are 0 to the maximum amount")
        upper = self.default_upper_limit_minor
        if upper is not None and not 0 <= upper <= MAX_AMOUNT_MINOR:
            raise InvalidSettings("the upper limit is 0 to the maximum amount, or none")
        if self.default_soft_limit_minor > self.default_credit_limit_minor:
            raise InvalidSettings("the soft limit is at most the credit limit")
        if not 0 <= self.issuance_copay_bps <= BPS:
            raise InvalidSettings("the co-pay share is 0 to 10,000 bps")
        if not 0 <= self.demurrage_rate_bps <= BPS:
            raise InvalidSettings("the demurrage rate is 0 to 10,000 bps per period")
        if not self.issuance_reputation_threshold.is_finite():
            raise InvalidSettings("the reputation threshold must be a finite number")

    @classmethod
    def defaults(cls, currency: Currency) -> LedgerSettings:
        """Starting values: limit 100, allowance 100, co-pay 50 %, demurrage 1 %/month."""
        unit = 10**currency.scale
        return cls(
            default_credit_limit_minor=100 * unit,
            default_soft_limit_minor=80 * unit,
            default_upper_limit_minor=None,
            issuance_allowance_minor=100 * unit,
            issuance_copay_bps=5_000,
            issuance_reputation_threshold=Decimal(0),
            demurrage_rate_bps=100,
            demurrage_period=Period.MONTH,
            demurrage_free_threshold_minor=100 * unit,
        )


def _to_row(value: LedgerSettings) -> dict[str, Any]:
    row = asdict(value)
    row["issuance_reputation_threshold"] = str(value.issuance_reputation_threshold)
    row["demurrage_period"] = value.demurrage_period.value
    return row


def settings_from_row(row: Any) -> LedgerSettings:
    """Build `LedgerSettings` from a row that has the ``ledger_settings`` columns."""
    return LedgerSettings(
        default_credit_limit_minor=row.default_credit_limit_minor,
        default_soft_limit_minor=row.default_soft_limit_minor,
        default_upper_limit_minor=row.default_upper_limit_minor,
        issuance_allowance_minor=row.issuance_allowance_minor,
        issuance_copay_bps=row.issuance_copay_bps,
        issuance_reputation_threshold=Decimal(row.issuance_reputation_threshold),
        demurrage_rate_bps=row.demurrage_rate_bps,
        demurrage_period=Period(row.demurrage_period),
        demurrage_free_threshold_minor=row.demurrage_free_threshold_minor,
    )


def parse_reputation_threshold(text: str) -> Decimal:
    """Parse a threshold typed by an operator (``"3.5"``)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidSettings(f"not a number: {text[:40]!r}") from None
    if not value.is_finite():
        raise InvalidSettings("the reputation threshold must be a finite number")
    return value


def insert_settings(conn: Connection, value: LedgerSettings, now_us: int) -> None:
    """Create the settings row (done once, by `exchange.accounts.create_ledger`)."""
    start = period_start_us(now_us, value.demurrage_period)
    conn.execute(
        tables.settings.insert().values(
            id=1, demurrage_since_us=start, updated_at_us=now_us, **_to_row(value)
        )
    )


def get_settings(conn: Connection) -> LedgerSettings:
    """The community's ledger settings; raises `LedgerNotReady` before `create_ledger`."""
    row = conn.execute(select(tables.settings).where(tables.settings.c.id == 1)).first()
    if row is None:
        raise LedgerNotReady("the ledger has not been created yet")
    return settings_from_row(row)


def update_settings(conn: Connection, value: LedgerSettings, now_us: int) -> LedgerSettings:
    """Replace the settings. Turning demurrage on or changing its period restarts it now."""
    table = tables.settings
    old = conn.execute(select(table).where(table.c.id == 1).with_for_update()).first()
    if old is None:
        raise LedgerNotReady("the ledger has not been created yet")
    row = _to_row(value)
    restarted = value.demurrage_period.value != old.demurrage_period or (
        old.demurrage_rate_bps == 0 and value.demurrage_rate_bps > 0
    )
    if restarted:
        row["demurrage_since_us"] = period_start_us(now_us, value.demurrage_period)
    conn.execute(update(table).where(table.c.id == 1).values(updated_at_us=now_us, **row))
    return value


def find_currency(conn: Connection) -> Currency | None:
    row = conn.execute(select(tables.currency).where(tables.currency.c.id == 1)).first()
    return None if row is None else Currency(row.code, row.name, row.scale)


_CURRENCY = "exchange.currency"


def forget_currency(conn: Connection) -> None:
    """Drop the connection's copy of the currency (`create_ledger` calls it)."""
    conn.info.pop(_CURRENCY, None)


def get_currency(conn: Connection) -> Currency:
    """This community's currency; raises `LedgerNotReady` before `create_ledger`.

    A currency never changes once created, so it is kept on the database connection
    after the first read (the clearing path asks for it in every step)."""
    found: Currency | None = conn.info.get(_CURRENCY)
    if found is None:
        found = find_currency(conn)
        if found is None:
            raise LedgerNotReady("the ledger has not been created yet")
        conn.info[_CURRENCY] = found
    return found
