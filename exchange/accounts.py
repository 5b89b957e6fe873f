"""Accounts: one per member, the system accounts, and one per peer community.

* Member accounts have ids chosen by the application (1-200 characters, not a system
  id, not starting with ``peer:``). They get the community's default limits and
  issuance allowance when opened (`exchange.settings`).
* System accounts, created with the ledger (`create_ledger`): ``issuance`` (new coinage
  comes from it, so it runs negative: no lower limit), ``demurrage`` (collects
  demurrage), ``fees`` and ``rounding`` (residue of conversions; may go either way).
* Peer accounts, ``peer:<domain>``: the clearing account of a peered community
  (DESIGN §5), limits set by this community's operator.

Limits: ``credit_limit_minor`` is how far below zero the account may go (``None``: no
lower limit), ``upper_limit_minor`` the most it may hold counting incoming holds
(``None``: no upper limit), ``soft_limit_minor`` a warning threshold below zero
(`Account.soft_limit_reached`). Every limit change is logged in ``ledger_limit_changes``
so that the audit can tell a balance left beyond a lowered limit from a broken rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, select, update

from exchange import tables
from exchange.booking import DEMURRAGE as DEMURRAGE
from exchange.chain import genesis_hash
from exchange.errors import (
    AccountExists,
    AccountNotEmpty,
    InvalidRequest,
    LedgerExists,
    UnknownAccount,
)
from exchange.money import MAX_AMOUNT_MINOR, Currency
from exchange.periods import period_start_us
from exchange.settings import (
    LedgerSettings,
    find_currency,
    forget_currency,
    get_settings,
    insert_settings,
)
from exchange.transfers import check_id

ISSUANCE = "issuance"
FEES = "fees"
ROUNDING = "rounding"
SYSTEM_ACCOUNT_IDS = (ISSUANCE, DEMURRAGE, FEES, ROUNDING)
PEER_PREFIX = "peer:"


class AccountKind(StrEnum):
    MEMBER = "member"
    SYSTEM = "system"
    PEER = "peer"


@dataclass(frozen=True, slots=True)
class Limits:
    """An account's limits (see the module docstring); ``None`` means no such limit."""

    credit_limit_minor: int | None
    upper_limit_minor: int | None = None
    soft_limit_minor: int | None = None

    def __post_init__(self) -> None:
        for value in (self.credit_limit_minor, self.upper_limit_minor, self.soft_limit_minor):
            if value is not None and (type(value) is not int or not 0 <= value <= MAX_AMOUNT_MINOR):
                raise InvalidRequest("a limit is a whole number of minor units, 0 or more")
        credit, soft = self.credit_limit_minor, self.soft_limit_minor
        if soft is not None and credit is not None and soft > credit:
            raise InvalidRequest("the soft limit is at most the credit limit")

    @classmethod
    def defaults(cls, settings: LedgerSettings) -> Limits:
        return cls(
            settings.default_credit_limit_minor,
            settings.default_upper_limit_minor,
            settings.default_soft_limit_minor,
        )


@dataclass(frozen=True, slots=True)
class Account:
    """An account as stored: limits, the four running totals and the allowance."""

    id: str
    kind: AccountKind
    limits: Limits
    debits_posted_minor: int
    credits_posted_minor: int
    debits_pending_minor: int
    credits_pending_minor: int
    allowance_granted_minor: int
    allowance_remaining_minor: int
    seq: int
    opened_at_us: int
    closed_at_us: int | None

    @property
    def balance_minor(self) -> int:
        """Posted balance: credits minus debits."""
        return self.credits_posted_minor - self.debits_posted_minor

    @property
    def available_minor(self) -> int:
        """Balance minus outgoing holds: what counts against the credit limit."""
        return self.balance_minor - self.debits_pending_minor

    @property
    def is_open(self) -> bool:
        return self.closed_at_us is None

    @property
    def soft_limit_reached(self) -> bool:
        """Whether the available balance is at or below minus the soft limit."""
        soft = self.limits.soft_limit_minor
        return soft is not None and self.available_minor <= -soft


def account_from_row(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        kind=AccountKind(row.kind),
        limits=Limits(row.credit_limit_minor, row.upper_limit_minor, row.soft_limit_minor),
        debits_posted_minor=row.debits_posted_minor,
        credits_posted_minor=row.credits_posted_minor,
        debits_pending_minor=row.debits_pending_minor,
        credits_pending_minor=row.credits_pending_minor,
        allowance_granted_minor=row.allowance_granted_minor,
        allowance_remaining_minor=row.allowance_remaining_minor,
        seq=row.seq,
        opened_at_us=row.opened_at_us,
        closed_at_us=row.closed_at_us,
    )


def peer_account_id(domain: str) -> str:
    """The clearing account of a peer community: ``peer:<domain>``."""
    if not 0 < len(domain) <= 253 or domain != domain.lower() or not domain.isascii():
        raise InvalidRequest("a peer domain is a lower-case host name")
    return PEER_PREFIX + domain


def _insert_account(
    conn: Connection, account_id: str, kind: AccountKind, limits: Limits, now_us: int
) -> Account:
    settings = get_settings(conn)
    allowance = settings.issuance_allowance_minor if kind is AccountKind.MEMBER else 0
    if find_account(conn, account_id) is not None:
        raise AccountExists(account_id)
    conn.execute(
        tables.accounts.insert().values(
            id=account_id,
            kind=kind.value,
            credit_limit_minor=limits.credit_limit_minor,
            upper_limit_minor=limits.upper_limit_minor,
            soft_limit_minor=limits.soft_limit_minor,
            debits_posted_minor=0,
            credits_posted_minor=0,
            debits_pending_minor=0,
            credits_pending_minor=0,
            seq=0,
            chain_hash=genesis_hash(account_id),
            allowance_granted_minor=allowance,
            allowance_remaining_minor=allowance,
            demurrage_settled_to_us=period_start_us(now_us, settings.demurrage_period),
            opened_at_us=now_us,
        )
    )
    _log_limits(conn, account_id, limits, now_us)
    return get_account(conn, account_id)


def create_ledger(
    conn: Connection, currency: Currency, now_us: int, settings: LedgerSettings | None = None
) -> None:
    """Create the currency, the settings and the system accounts; raises `LedgerExists`."""
    if find_currency(conn) is not None:
        raise LedgerExists("this community's ledger exists already")
    forget_currency(conn)
    conn.execute(
        tables.currency.insert().values(
            id=1, code=currency.code, name=currency.name, scale=currency.scale, created_at_us=now_us
        )
    )
    insert_settings(conn, settings or LedgerSettings.defaults(currency), now_us)
    for account_id in SYSTEM_ACCOUNT_IDS:
        unlimited = account_id in (ISSUANCE, ROUNDING)
        limits = Limits(None if unlimited else 0)
        _insert_account(conn, account_id, AccountKind.SYSTEM, limits, now_us)


def open_member_account(
    conn: Connection, account_id: str, now_us: int, limits: Limits | None = None
) -> Account:
    """Open a member's account with ``limits`` or the community's defaults.

    Raises `InvalidRequest` (bad or reserved id), `AccountExists`, `LedgerNotReady`.
    """
    check_id(account_id, "account id")
    if account_id in SYSTEM_ACCOUNT_IDS or account_id.startswith(PEER_PREFIX):
        raise InvalidRequest(f"{account_id!r} is reserved for the ledger's own accounts")
    chosen = limits or Limits.defaults(get_settings(conn))
    return _insert_account(conn, account_id, AccountKind.MEMBER, chosen, now_us)


def open_peer_account(conn: Connection, domain: str, now_us: int, limits: Limits) -> Account:
    """Open the clearing account ``peer:<domain>``; raises `AccountExists`."""
    return _insert_account(conn, peer_account_id(domain), AccountKind.PEER, limits, now_us)


def find_account(conn: Connection, account_id: str) -> Account | None:
    a = tables.accounts
    row = conn.execute(select(a).where(a.c.id == account_id)).first()
    return None if row is None else account_from_row(row)


def get_account(conn: Connection, account_id: str) -> Account:
    """The account; raises `UnknownAccount`."""
    found = find_account(conn, account_id)
    if found is None:
        raise UnknownAccount(account_id)
    return found


def list_accounts(conn: Connection, kind: AccountKind | None = None) -> list[Account]:
    a = tables.accounts
    query = select(a).order_by(a.c.id)
    if kind is not None:
        query = query.where(a.c.kind == kind.value)
    return [account_from_row(row) for row in conn.execute(query)]


def _lock(conn: Connection, account_id: str) -> Row[Any]:
    a = tables.accounts
    row = conn.execute(select(a).where(a.c.id == account_id).with_for_update()).first()
    if row is None:
        raise UnknownAccount(account_id)
    return row


def _log_limits(conn: Connection, account_id: str, limits: Limits, now_us: int) -> None:
    conn.execute(
        tables.limit_changes.insert().values(
            account_id=account_id,
            changed_at_us=now_us,
            credit_limit_minor=limits.credit_limit_minor,
            upper_limit_minor=limits.upper_limit_minor,
            soft_limit_minor=limits.soft_limit_minor,
        )
    )


def set_limits(conn: Connection, account_id: str, limits: Limits, now_us: int) -> Account:
    """Change an account's limits (logged). A balance already beyond a new limit stays
    as it is, and may still move back towards it. Raises `UnknownAccount`."""
    _lock(conn, account_id)
    a = tables.accounts
    conn.execute(
        update(a)
        .where(a.c.id == account_id)
        .values(
            credit_limit_minor=limits.credit_limit_minor,
            upper_limit_minor=limits.upper_limit_minor,
            soft_limit_minor=limits.soft_limit_minor,
        )
    )
    _log_limits(conn, account_id, limits, now_us)
    return get_account(conn, account_id)


def close_account(conn: Connection, account_id: str, now_us: int) -> Account:
    """Close an account with a zero balance and no holds; it then refuses transfers.

    Raises `UnknownAccount`, `AccountNotEmpty`, `InvalidRequest` (a system account).
    """
    row = _lock(conn, account_id)
    if row.kind == AccountKind.SYSTEM.value:
        raise InvalidRequest("system accounts cannot be closed")
    account = account_from_row(row)
    if account.balance_minor or account.debits_pending_minor or account.credits_pending_minor:
        raise AccountNotEmpty(account_id)
    if account.is_open:
        a = tables.accounts
        conn.execute(update(a).where(a.c.id == account_id).values(closed_at_us=now_us))
    return get_account(conn, account_id)
