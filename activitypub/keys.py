"""Keys for HTTP signatures: generate, load, parse, cache, and the sign/verify primitives.

Loading an RSA private key with validation costs ~38 ms, so callers load each key once
and keep the object. Public keys arrive as PEM (``publicKey.publicKeyPem``, RSA or
Ed25519) or as FEP-521a Multikeys (``publicKeyMultibase``, Ed25519); a
`PublicKeyCache` owned by the caller keeps them parsed by keyId.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from activitypub.errors import InvalidKey

PublicKey = rsa.RSAPublicKey | Ed25519PublicKey
PrivateKey = rsa.RSAPrivateKey | Ed25519PrivateKey

#: Algorithm names as RFC 9421 registers them; draft-cavage names map onto these.
RSA_V1_5_SHA256 = "rsa-v1_5-sha256"
RSA_PSS_SHA512 = "rsa-pss-sha512"
ED25519 = "ed25519"

MIN_RSA_KEY_BITS = 2048
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ED25519_MULTICODEC = b"\xed\x01"
# Stateless and reused on every verify, which saves building them per request.
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_SHA512 = hashes.SHA512()
_PSS_SHA512 = padding.PSS(mgf=padding.MGF1(_SHA512), salt_length=64)


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A freshly generated keypair as PEM text; the repr never shows the private half."""

    private_key_pem: str = field(repr=False)
    public_key_pem: str


@dataclass(frozen=True, slots=True)
class PublicKeyInfo:
    """A parsed public key and the actor that owns it (``publicKey.owner``)."""

    owner: str
    key: PublicKey


class KeyResolver(Protocol):
    """Finds the key for a keyId; with ``refresh`` it refetches (key rotation).

    Raise `activitypub.errors.KeyUnavailable` when the key cannot be had.
    """

    def __call__(self, key_id: str, *, refresh: bool) -> Awaitable[PublicKeyInfo]: ...


def generate_rsa_keypair(*, key_size_bits: int = 2048) -> KeyPair:
    """A new RSA keypair (PKCS#8 private, SubjectPublicKeyInfo public); takes ~50 ms."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size_bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(private_pem.decode("ascii"), render_public_key_pem(key.public_key()))


def load_private_key(
    pem: str | bytes, *, unsafe_skip_rsa_key_validation: bool = False
) -> PrivateKey:
    """Parse an RSA or Ed25519 private key; skip validation only for keys we generated."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=unsafe_skip_rsa_key_validation
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKey("not a PEM private key we can read") from exc
    if not isinstance(key, rsa.RSAPrivateKey | Ed25519PrivateKey):
        raise InvalidKey("only RSA and Ed25519 private keys are supported")
    return key


def parse_public_key_pem(pem: str | bytes) -> PublicKey:
    """Parse ``publicKeyPem``: SubjectPublicKeyInfo or PKCS#1, RSA (≥ 2048 bits) or Ed25519."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKey("not a PEM public key we can read") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_KEY_BITS:
            raise InvalidKey(f"RSA keys must have at least {MIN_RSA_KEY_BITS} bits")
        return key
    if isinstance(key, Ed25519PublicKey):
        return key
    raise InvalidKey("only RSA and Ed25519 public keys are supported")


def parse_public_key_multibase(value: str) -> Ed25519PublicKey:
    """Parse a FEP-521a ``publicKeyMultibase``: ``z`` + base58btc(0xed01 + 32 key bytes)."""
    if not value.startswith("z"):
        raise InvalidKey("publicKeyMultibase must be base58btc (start with 'z')")
    decoded = _decode_base58(value[1:])
    if len(decoded) != 34 or not decoded.startswith(_ED25519_MULTICODEC):
        raise InvalidKey("publicKeyMultibase is not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def render_public_key_pem(key: PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM that goes in ``publicKey.publicKeyPem``."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def render_public_key_multibase(key: Ed25519PublicKey) -> str:
    """The FEP-521a ``publicKeyMultibase`` of an Ed25519 key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + _encode_base58(_ED25519_MULTICODEC + raw)


def default_algorithms(key: PublicKey) -> tuple[str, ...]:
    """What a key can have signed when the signature does not say: RSA is ambiguous."""
    if isinstance(key, Ed25519PublicKey):
        return (ED25519,)
    return (RSA_V1_5_SHA256, RSA_PSS_SHA512)


def sign_bytes(private_key: PrivateKey, algorithm: str, data: bytes) -> bytes:
    """Sign with an RFC 9421 algorithm name; ValueError if key and algorithm disagree."""
    if isinstance(private_key, Ed25519PrivateKey):
        if algorithm != ED25519:
            raise ValueError(f"an Ed25519 key cannot sign {algorithm}")
        return private_key.sign(data)
    if algorithm == RSA_V1_5_SHA256:
        return private_key.sign(data, _PKCS1V15, _SHA256)
    if algorithm == RSA_PSS_SHA512:
        return private_key.sign(data, _PSS_SHA512, _SHA512)
    raise ValueError(f"an RSA key cannot sign {algorithm}")


def verify_bytes(key: PublicKey, algorithm: str, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is ``key``'s signature of ``data``; a key of the wrong type fails."""
    try:
        if isinstance(key, Ed25519PublicKey):
            if algorithm != ED25519:
                return False
            key.verify(signature, data)
        elif algorithm == RSA_V1_5_SHA256:
            key.verify(signature, data, _PKCS1V15, _SHA256)
        elif algorithm == RSA_PSS_SHA512:
            key.verify(signature, data, _PSS_SHA512, _SHA512)
        else:
            return False
    except InvalidSignature:
        return False
    return True


class PublicKeyCache:
    """Parsed public keys by keyId, least recently used dropped first; one per runtime."""

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._entries: OrderedDict[str, PublicKeyInfo] = OrderedDict()

    def get(self, key_id: str) -> PublicKeyInfo | None:
        """The cached key, or None (like `dict.get`)."""
        info = self._entries.get(key_id)
        if info is not None:
            self._entries.move_to_end(key_id)
        return info

    def put(self, key_id: str, info: PublicKeyInfo) -> None:
        self._entries[key_id] = info
        self._entries.move_to_end(key_id)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def discard(self, key_id: str) -> None:
        self._entries.pop(key_id, None)

    def discard_owner(self, owner: str) -> None:
        """Forget every key of ``owner`` (its document changed, or it is gone)."""
        for key_id in [k for k, info in self._entries.items() if info.owner == owner]:
            del self._entries[key_id]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries


def _decode_base58(text: str) -> bytes:
    number = 0
    for char in text:
        digit = _BASE58_ALPHABET.find(char)
        if digit < 0:
            raise InvalidKey(f"{char!r} is not a base58 digit")
        number = number * 58 + digit
    # Each leading '1' stands for a leading zero byte, which the number cannot hold.
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def _encode_base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(digits))
