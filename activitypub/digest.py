"""Body digests: draft-cavage ``Digest: SHA-256=<b64>`` and RFC 9530 ``Content-Digest``.

A signature covers the digest header, not the body, so the digest is what ties the body
to the signature: a mismatch must fail the request. We send SHA-256 (what Mastodon
accepts) and check every SHA-256 or SHA-512 entry we are given, ignoring algorithms we
do not know, as RFC 3230 and RFC 9530 allow; a header with none we know is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from types import MappingProxyType

from activitypub.errors import DigestMalformed, DigestMismatch

_HASHES: MappingProxyType[str, Callable[[bytes], hashlib._Hash]] = MappingProxyType(
    {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
)


def render_digest(body: bytes) -> str:
    """The draft-cavage ``Digest`` header value: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def render_content_digest(body: bytes, *, algorithm: str = "sha-256") -> str:
    """The RFC 9530 ``Content-Digest`` header value: ``sha-256=:<base64>:``."""
    hasher = _HASHES.get(algorithm)
    if hasher is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    return f"{algorithm}=:{base64.b64encode(hasher(body).digest()).decode('ascii')}:"


def verify_digest(value: str, body: bytes) -> None:
    """Check a ``Digest`` header (``SHA-256=…, SHA-512=…``) against the body, or raise."""
    if value.startswith("SHA-256=") and "," not in value:
        # What every fediverse server sends: compare the text, skip the general parse.
        expected = base64.b64encode(hashlib.sha256(body).digest())
        if not hmac.compare_digest(value[8:].strip().encode("utf-8"), expected):
            raise DigestMismatch("SHA-256")
        return
    checked = False
    for entry in value.split(","):
        name, sep, encoded = entry.strip().partition("=")
        if not sep:
            raise DigestMalformed("the Digest header is not a list of algorithm=value")
        hasher = _HASHES.get(name.lower())
        if hasher is not None:
            _compare(name, encoded, hasher(body).digest())
            checked = True
    if not checked:
        raise DigestMalformed("the Digest header has no SHA-256 or SHA-512 entry")


def verify_content_digest(value: str, body: bytes) -> None:
    """Check a ``Content-Digest`` header (``sha-256=:…:``) against the body, or raise."""
    checked = False
    # Byte sequences are base64 and never contain commas, so a split is a faithful
    # reading of this Structured Fields dictionary; member parameters are dropped.
    for member in value.split(","):
        name, _, rest = member.strip().partition("=")
        hasher = _HASHES.get(name.lower())
        if hasher is None:
            continue
        item = rest.split(";", 1)[0]
        if len(item) < 2 or item[0] != ":" or item[-1] != ":":
            raise DigestMalformed(f"the {name} Content-Digest is not a byte sequence")
        _compare(name, item[1:-1], hasher(body).digest())
        checked = True
    if not checked:
        raise DigestMalformed("the Content-Digest header has no sha-256 or sha-512 entry")


def _compare(name: str, encoded: str, computed: bytes) -> None:
    try:
        given = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DigestMalformed(f"the {name} digest is not base64") from exc
    if not hmac.compare_digest(given, computed):
        raise DigestMismatch(name.upper())
