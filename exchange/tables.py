"""The ledger's tables (SQLAlchemy Core), on their own metadata; migration 0002_ledger.

Amounts are BigInteger minor units, suffixed ``_minor``; instants are BigInteger
microseconds since the Unix epoch (UTC), suffixed ``_at_us``.

* ``ledger_currency`` and ``ledger_settings``: one row each (``id = 1``).
* ``ledger_accounts``: limits, the four running totals (TigerBeetle's
  ``debits_posted``, ``credits_posted``, ``debits_pending``, ``credits_pending``), and the
  head of the account's hash chain (``seq``, ``chain_hash``; see `exchange.chain`).
  A row is updated by every transfer that touches it; nothing else about it changes
  except limits (logged in ``ledger_limit_changes``) and closing.
* ``ledger_transfers``: immutable, append-only. ``ordinal`` is the insertion order; ``id``
  is the caller's idempotency key. A resolution (post, void, expire) of a pending
  transfer is a new row whose ``pending_id`` is unique, so a hold is resolved at most once.
  Each row records its place in both accounts' chains (``*_seq``), the posted balance of
  each account after it (``*_balance_minor``) and each chain's hash after it (``*_hash``).
* ``ledger_holds``: the index of pending transfers not yet resolved (derived data: a row
  is inserted with the pending transfer and deleted with its resolution), so that the
  expiry worker does not scan history. `exchange.audit` checks it against the transfers.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

#: Ids chosen by callers are at most 200 characters; derived ids (``peer:<domain>``,
#: ``demurrage:<account>:<period>``, ``expire:<pending>``) need a little more room.
ID = 300
#: SQLite only aliases the rowid (cheap inserts, no separate index) for INTEGER keys.
ORDINAL = BigInteger().with_variant(Integer(), "sqlite")

currency = Table(
    "ledger_currency",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("code", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("scale", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)

settings = Table(
    "ledger_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("default_credit_limit_minor", BigInteger, nullable=False),
    Column("default_soft_limit_minor", BigInteger, nullable=False),
    Column("default_upper_limit_minor", BigInteger),
    Column("issuance_allowance_minor", BigInteger, nullable=False),
    Column("issuance_copay_bps", Integer, nullable=False),
    # A decimal string: reputation scores are not money, but compare them exactly.
    Column("issuance_reputation_threshold", String(40), nullable=False),
    Column("demurrage_rate_bps", Integer, nullable=False),
    Column("demurrage_period", String(8), nullable=False),
    Column("demurrage_free_threshold_minor", BigInteger, nullable=False),
    # Periods that began before this instant are never charged (see exchange.demurrage).
    Column("demurrage_since_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
)

accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("credit_limit_minor", BigInteger),  # NULL: no lower limit
    Column("upper_limit_minor", BigInteger),  # NULL: no upper limit
    Column("soft_limit_minor", BigInteger),  # NULL: no warning threshold
    Column("debits_posted_minor", BigInteger, nullable=False),
    Column("credits_posted_minor", BigInteger, nullable=False),
    Column("debits_pending_minor", BigInteger, nullable=False),
    Column("credits_pending_minor", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("chain_hash", LargeBinary(32), nullable=False),
    Column("allowance_granted_minor", BigInteger, nullable=False),
    Column("allowance_remaining_minor", BigInteger, nullable=False),
    Column("demurrage_settled_to_us", BigInteger, nullable=False),
    Column("opened_at_us", BigInteger, nullable=False),
    Column("closed_at_us", BigInteger),
    CheckConstraint("kind IN ('member', 'system', 'peer')", name="kind"),
    CheckConstraint("credit_limit_minor >= 0", name="credit_limit"),
)

transfers = Table(
    "ledger_transfers",
    metadata,
    Column("ordinal", ORDINAL, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("phase", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("debit_account_id", ForeignKey(accounts.c.id), nullable=False),
    Column("credit_account_id", ForeignKey(accounts.c.id), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("pending_id", String(ID), unique=True),
    Column("expires_at_us", BigInteger),
    Column("created_at_us", BigInteger, nullable=False),
    Column("memo", String(500), nullable=False),
    Column("reference", String(ID)),
    Column("debit_seq", BigInteger, nullable=False),
    Column("credit_seq", BigInteger, nullable=False),
    Column("debit_balance_minor", BigInteger, nullable=False),
    Column("credit_balance_minor", BigInteger, nullable=False),
    Column("debit_hash", LargeBinary(32), nullable=False),
    Column("credit_hash", LargeBinary(32), nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    CheckConstraint("phase IN ('single', 'pending', 'post', 'void', 'expire')", name="phase"),
    UniqueConstraint("debit_account_id", "debit_seq"),
    UniqueConstraint("credit_account_id", "credit_seq"),
    Index(None, "reference"),
)

holds = Table(
    "ledger_holds",
    metadata,
    Column("pending_id", ForeignKey(transfers.c.id), primary_key=True),
    Column("expires_at_us", BigInteger, nullable=False, index=True),
)

limit_changes = Table(
    "ledger_limit_changes",
    metadata,
    Column("id", ORDINAL, primary_key=True, autoincrement=True),
    Column("account_id", ForeignKey(accounts.c.id), nullable=False),
    Column("changed_at_us", BigInteger, nullable=False),
    Column("credit_limit_minor", BigInteger),
    Column("upper_limit_minor", BigInteger),
    Column("soft_limit_minor", BigInteger),
    Index(None, "account_id", "changed_at_us"),
)
