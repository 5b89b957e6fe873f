"""The tables of trades and reviews (SQLAlchemy Core); migration 0003_trades.

They live on the ledger's metadata (`exchange.tables.metadata`, same naming convention).
Instants are BigInteger microseconds (``*_at_us``), amounts BigInteger minor units.

* ``trades``: one row per trade, updated as it moves (see `exchange.trade_machine`). Each
  party is either a local member (``*_account_id``, a ledger account) or a remote actor
  (``*_actor_uri``), never both; ``remote`` is true when either party is remote.
  ``clearing_scale`` (migration 0007) is set for a trade paid through clearing, and its
  ``payment_id`` is then the clearing transfer's id; a payment pays one trade.
* ``trade_steps``: the history of a trade, append-only, numbered by ``seq`` within the
  trade. ``step_id`` is the caller's idempotency key for the step (unique per trade).
* ``trade_reviews``: at most one review per side of a trade (the primary key), with the
  references federation needs (reviewer, subject, the remote object's URI, who signed it).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from exchange.tables import ID, accounts, metadata

URI = 2048

_STATES = "'proposed', 'agreed', 'declined', 'cancelled', 'delivered', 'confirmed', 'paid', "
_STATES += "'returned', 'settled'"
_OPTIONS = "'fixed', 'pay_what_you_feel', 'gift', 'loan', 'rental', 'swap'"
_ROLES = "'provider', 'receiver'"


def _one_of(prefix: str) -> CheckConstraint:
    """Exactly one of ``<prefix>_account_id`` and ``<prefix>_actor_uri`` is set."""
    text = f"({prefix}_account_id IS NULL) <> ({prefix}_actor_uri IS NULL)"
    return CheckConstraint(text, name=f"{prefix}_ref")


trades = Table(
    "trades",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("listing_ref", String(URI), nullable=False),
    Column("listing_title", String(200), nullable=False),
    Column("listing_kind", String(8), nullable=False),
    Column("option", String(20), nullable=False),
    Column("state", String(12), nullable=False),
    Column("provider_account_id", ForeignKey(accounts.c.id)),
    Column("provider_actor_uri", String(URI)),
    Column("receiver_account_id", ForeignKey(accounts.c.id)),
    Column("receiver_actor_uri", String(URI)),
    Column("proposer", String(8), nullable=False),
    Column("payer", String(8), nullable=False),
    Column("remote", Boolean, nullable=False),
    Column("currency_code", String(16), nullable=False),
    Column("price_minor", BigInteger),
    Column("outside_currency", String(16)),
    Column("outside_amount", String(40)),
    Column("return_due_at_us", BigInteger),
    Column("agreement_uri", String(URI), unique=True),
    Column("payment_id", String(ID)),
    Column("paid_minor", BigInteger),
    Column("reason", String(500)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("confirmed_at_us", BigInteger),
    Column("settled_at_us", BigInteger),
    Column("clearing_scale", Integer),  # migration 0007: set when paid through clearing
    CheckConstraint(f"state IN ({_STATES})", name="state"),
    CheckConstraint(f"option IN ({_OPTIONS})", name="option"),
    CheckConstraint("listing_kind IN ('offer', 'need')", name="listing_kind"),
    CheckConstraint(f"proposer IN ({_ROLES}) AND payer IN ({_ROLES})", name="roles"),
    CheckConstraint("price_minor >= 0 AND paid_minor >= 0", name="amounts"),
    _one_of("provider"),
    _one_of("receiver"),
    Index(None, "provider_account_id"),
    Index(None, "receiver_account_id"),
    Index(None, "provider_actor_uri"),
    Index(None, "receiver_actor_uri"),
    Index(None, "listing_ref"),
    Index(None, "payment_id", unique=True),  # a payment (or clearing transfer) pays one trade
    Index(None, "clearing_scale", "state"),  # `fediverse_share.trades.payments` looks them up
)

steps = Table(
    "trade_steps",
    metadata,
    Column("trade_id", ForeignKey(trades.c.id), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("step_id", String(ID)),
    Column("action", String(12), nullable=False),
    Column("actor_role", String(8), nullable=False),
    Column("from_state", String(12), nullable=False),
    Column("to_state", String(12), nullable=False),
    Column("amount_minor", BigInteger),
    Column("outside_currency", String(16)),
    Column("outside_amount", String(40)),
    Column("reason", String(500)),
    Column("at_us", BigInteger, nullable=False),
    CheckConstraint(f"actor_role IN ({_ROLES}, 'system')", name="actor_role"),
    UniqueConstraint("trade_id", "step_id"),
)

reviews = Table(
    "trade_reviews",
    metadata,
    Column("trade_id", ForeignKey(trades.c.id), primary_key=True),
    Column("reviewer_role", String(8), primary_key=True),
    Column("reviewer_account_id", ForeignKey(accounts.c.id)),
    Column("reviewer_actor_uri", String(URI)),
    Column("subject_account_id", ForeignKey(accounts.c.id)),
    Column("subject_actor_uri", String(URI)),
    Column("rating", Integer, nullable=False),
    Column("text", String(2000), nullable=False),
    Column("written_at_us", BigInteger, nullable=False),
    Column("stored_at_us", BigInteger, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("remote_signed_by", String(URI)),
    Column("remote_uri", String(URI), unique=True),
    CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
    CheckConstraint(f"reviewer_role IN ({_ROLES})", name="reviewer_role"),
    _one_of("reviewer"),
    _one_of("subject"),
    Index(None, "subject_account_id"),
    Index(None, "subject_actor_uri"),
)
