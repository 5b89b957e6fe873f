"""Immutability evidence: one hash chain per account, not one for the whole ledger.

Why per account. A single global chain needs every transfer to read and replace one
"last hash", which on PostgreSQL serialises all transfers behind one row lock. A transfer
already locks the rows of the two accounts it touches (to check limits and update
balances), so a chain kept on each account row costs no extra lock and no extra
statement: transfers between disjoint accounts stay fully parallel.

How. Every transfer has a *digest*, SHA-256 of a canonical, length-prefixed encoding of
its content (id, phase, kind, accounts, amount, pending id, expiry, time, memo,
reference); the digest does not depend on any account's state. Each account keeps
``seq`` (how many transfers touched it) and ``chain_hash``, starting from a genesis hash
of its id. When a transfer touches the account, ``seq`` grows by one and::

    chain_hash = SHA-256(previous chain_hash ‖ seq (8 bytes) ‖ balance after (8 bytes) ‖ digest)

where "balance after" is the account's posted balance after the transfer. The transfer
row stores, for both of its accounts, the new ``seq``, the balance after and the hash
after. So the audit can recompute every chain from the transfers alone, find the first
row that was edited, deleted or reordered, and check the heads stored on the accounts.
The hash at any ``seq`` is what a peer's statement (``seq``, hash, balance) is compared
with for a ``peer:<domain>`` account (DESIGN §5).
"""

from __future__ import annotations

from hashlib import sha256

_GENESIS_PREFIX = b"fediverse-share ledger account\x00"
_NONE = b"\xff\xff\xff\xff"


def genesis_hash(account_id: str) -> bytes:
    """The chain hash of an account before any transfer touched it."""
    return sha256(_GENESIS_PREFIX + account_id.encode()).digest()


def _field(value: str | int | None) -> bytes:
    if value is None:
        return _NONE
    data = value.encode() if isinstance(value, str) else str(value).encode()
    return len(data).to_bytes(4, "big") + data


def transfer_digest(
    transfer_id: str,
    phase: str,
    kind: str,
    debit_account_id: str,
    credit_account_id: str,
    amount_minor: int,
    pending_id: str | None,
    expires_at_us: int | None,
    created_at_us: int,
    memo: str,
    reference: str | None,
) -> bytes:
    """SHA-256 of a transfer's content in a canonical, unambiguous encoding."""
    parts = (
        transfer_id,
        phase,
        kind,
        debit_account_id,
        credit_account_id,
        amount_minor,
        pending_id,
        expires_at_us,
        created_at_us,
        memo,
        reference,
    )
    return sha256(b"".join(_field(part) for part in parts)).digest()


def chain_step(previous: bytes, seq: int, balance_minor: int, digest: bytes) -> bytes:
    """The next hash of an account's chain (see the module docstring)."""
    return sha256(
        previous
        + seq.to_bytes(8, "big", signed=True)
        + balance_minor.to_bytes(8, "big", signed=True)
        + digest
    ).digest()
