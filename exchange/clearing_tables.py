"""The tables of peering, posted rates and clearing legs; migration 0006_clearing.

They live on the ledger's metadata (`exchange.tables.metadata`). Amounts are BigInteger
minor units (``*_minor``), instants BigInteger microseconds (``*_at_us``); exact rates
and residues are a numerator and a denominator (``*_num``, ``*_den``) kept as decimal
strings, because a product of rates can outgrow 64 bits.

* ``clearing_links``: one row per peer community (by domain): its currency, the link's
  status and both sides' consent, the rounding residue of conversions from its
  currency not yet booked, and the head of the statements exchanged with it.
* ``clearing_rates``: the rates this community posts, one immutable row per version of
  the quote for a peer currency. ``peer_rates`` caches the quotes peers post.
* ``clearing_legs``: this community's leg of each cross-community transfer (one per
  transfer: a path never visits a community twice). Its amounts are stored, never
  recomputed: what the upstream sent (in its units), what it was worth here (gross),
  the fee, what goes on (out), and what the downstream booked (reported with the
  fulfilment).
* ``clearing_statements``: the reconciliation statements exchanged per link.
* ``clearing_quotes``: what a member of this community was quoted for paying a member
  of another (path, amounts, the rates each hop cited, the payee's condition), and the
  member's idempotency key once they pay it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from exchange.tables import ID, metadata

URI = 2048
DOMAIN = 253
#: Decimal strings of exact rationals: 10^15 x 10^12 x 10^12 fits easily.
NUMBER = 80

links = Table(
    "clearing_links",
    metadata,
    Column("domain", String(DOMAIN), primary_key=True),
    Column("actor_uri", String(URI), nullable=False),
    Column("inbox_url", String(URI), nullable=False),
    Column("currency_code", String(16), nullable=False),
    Column("currency_scale", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("local_consent", Boolean, nullable=False),
    Column("remote_consent", Boolean, nullable=False),
    # When the peer wrote its newest link message we applied: an older one arriving
    # later (deliveries are concurrent) must not undo it.
    Column("remote_updated_at_us", BigInteger, nullable=False),
    Column("residue_num", String(NUMBER), nullable=False),
    Column("residue_den", String(NUMBER), nullable=False),
    Column("statement_seq", BigInteger, nullable=False),
    Column("statement_hash", String(64), nullable=False),
    Column("note", String(500), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint(
        "status IN ('pending', 'active', 'suspended', 'frozen', 'ended')", name="status"
    ),
)

rates = Table(
    "clearing_rates",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("peer_currency_code", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("rate_num", String(NUMBER), nullable=False),
    Column("rate_den", String(NUMBER), nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("max_amount_minor", BigInteger, nullable=False),
    Column("valid_from_us", BigInteger, nullable=False),
    Column("valid_until_us", BigInteger, nullable=False),
    UniqueConstraint("peer_currency_code", "version"),
    CheckConstraint("fee_bps >= 0 AND fee_bps < 10000", name="fee"),
)

peer_rates = Table(
    "clearing_peer_rates",
    metadata,
    Column("uri", String(URI), primary_key=True),
    Column("domain", String(DOMAIN), nullable=False),
    Column("currency_code", String(16), nullable=False),
    Column("peer_currency_code", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("rate_num", String(NUMBER), nullable=False),
    Column("rate_den", String(NUMBER), nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("max_amount_minor", BigInteger, nullable=False),
    Column("valid_from_us", BigInteger, nullable=False),
    Column("valid_until_us", BigInteger, nullable=False),
    Column("received_at_us", BigInteger, nullable=False),
    Index(None, "domain", "peer_currency_code", "version"),
)

legs = Table(
    "clearing_legs",
    metadata,
    Column("transfer_id", String(URI), primary_key=True),
    # "clr:" + 40 hex digits of SHA-256(transfer_id): the ledger transfers' ids and reference.
    Column("ref", String(44), nullable=False, unique=True),
    Column("role", String(8), nullable=False),
    Column("state", String(10), nullable=False),
    Column("upstream_domain", String(DOMAIN)),
    Column("downstream_domain", String(DOMAIN)),
    Column("debit_account_id", String(ID), nullable=False),
    Column("credit_account_id", String(ID), nullable=False),
    Column("amount_in_minor", BigInteger),  # in the upstream's currency; NULL for the payer
    Column("gross_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("out_minor", BigInteger, nullable=False),
    Column("downstream_gross_minor", BigInteger),
    Column("rate_id", String(ID)),
    Column("residue_num", String(NUMBER), nullable=False),
    Column("residue_den", String(NUMBER), nullable=False),
    Column("condition", String(64), nullable=False),
    Column("fulfilment", String(64)),
    Column("destination", String(URI), nullable=False),
    # What the payee is owed, as the payer's side wrote it (the wire form, kept to send on),
    # and in the payee's minor units (on the payee's leg only).
    Column("deliver", String(200), nullable=False),
    Column("deliver_minor", BigInteger),
    # The whole path (JSON list of domains) and the rates its hops cite (JSON object), so
    # that a leg can be sent on again after a restart exactly as it was first sent.
    Column("path", String(URI), nullable=False),
    Column("rate_ids", String(URI), nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("memo", String(500), nullable=False),
    Column("error_code", String(40)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    CheckConstraint("role IN ('payer', 'hop', 'payee')", name="role"),
    CheckConstraint(
        "state IN ('prepared', 'committed', 'aborted', 'expired', 'in_doubt')", name="state"
    ),
    Index(None, "state", "expires_at_us"),
    Index(None, "upstream_domain", "state"),
    Index(None, "downstream_domain", "state"),
)

statements = Table(
    "clearing_statements",
    metadata,
    Column("domain", String(DOMAIN), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("legs", BigInteger, nullable=False),
    Column("legs_hash", String(64), nullable=False),
    Column("running_hash", String(64), nullable=False),
    Column("matched", Boolean, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    CheckConstraint("direction IN ('sent', 'received')", name="direction"),
)

quotes = Table(
    "clearing_quotes",
    metadata,
    # The transfer a payer's quote is for; paying it prepares the payer's leg of that id.
    Column("transfer_id", String(URI), primary_key=True),
    Column("quote_id", String(40), nullable=False, unique=True),
    Column("payer_account_id", String(ID), nullable=False),
    Column("payment_key", String(ID)),
    Column("destination", String(URI), nullable=False),
    Column("deliver_currency", String(24), nullable=False),  # "CODE:scale"
    Column("deliver_minor", BigInteger, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("path", String(URI), nullable=False),  # JSON list of domains, payee's last
    Column("rate_ids", String(URI), nullable=False),  # JSON object: domain -> rate id
    Column("condition", String(64), nullable=False),
    Column("memo", String(500), nullable=False),
    Column("valid_until_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    UniqueConstraint("payer_account_id", "payment_key"),
)
