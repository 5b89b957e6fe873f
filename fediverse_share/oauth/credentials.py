"""Random credentials (client ids and secrets, codes, tokens) and their digests.

Every credential is 32 random bytes, URL-safe base64 (43 characters). Only its
SHA-256 digest is stored: for values with 256 bits of entropy a fast hash is as
good as a slow one, and it lets a token be found by an indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CREDENTIAL_BYTES = 32


def new_credential() -> str:
    return secrets.token_urlsafe(CREDENTIAL_BYTES)


def credential_digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def same_credential(value: str, digest: bytes) -> bool:
    """Compare ``value`` against a stored digest in constant time."""
    return hmac.compare_digest(credential_digest(value), digest)
