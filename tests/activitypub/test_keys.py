"""Keys: generation, PEM and Multikey parsing, the sign/verify primitives, the LRU cache."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from activitypub import keys
from activitypub.errors import InvalidKey

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "signatures"
# FEP-521a's example key, also given as base64url (``u…``) in FEP-8b32's history note.
FEP_521A_MULTIBASE = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
FEP_521A_BASE64URL = "7QGwDY2Tjn93PVFWWq02piP1NE9_XRlg-c8-jhJiDqKBDw"


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture(scope="module")
def pair() -> keys.KeyPair:
    return keys.generate_rsa_keypair()


def test_generated_keypair_is_rsa_2048_pem(pair):
    """generate_rsa_keypair gives PKCS#8 and SubjectPublicKeyInfo PEM of a 2048-bit key."""
    assert pair.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert pair.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    private = keys.load_private_key(pair.private_key_pem)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    assert keys.render_public_key_pem(private.public_key()) == pair.public_key_pem


def test_keypair_repr_hides_the_private_key(pair):
    """A KeyPair's repr never shows the private key."""
    assert "PRIVATE" not in repr(pair)


@pytest.mark.parametrize("skip", [False, True])
def test_private_key_loads_with_and_without_validation(pair, skip):
    """Both loading modes give a working key (validation is the slow, optional part)."""
    private = keys.load_private_key(pair.private_key_pem, unsafe_skip_rsa_key_validation=skip)
    signature = keys.sign_bytes(private, keys.RSA_V1_5_SHA256, b"data")
    public = keys.parse_public_key_pem(pair.public_key_pem)
    assert keys.verify_bytes(public, keys.RSA_V1_5_SHA256, signature, b"data")


def test_pkcs1_and_ed25519_pem_load():
    """PKCS#1 RSA (Mastodon's format) and PKCS#8 Ed25519 private keys both load."""
    mastodon = keys.load_private_key((FIXTURES / "mastodon-test-key.pem").read_text())
    ed = keys.load_private_key((FIXTURES / "rfc9421-test-key-ed25519.pem").read_bytes())
    assert isinstance(mastodon, rsa.RSAPrivateKey)
    assert isinstance(ed, Ed25519PrivateKey)


@pytest.mark.parametrize(
    "pem", ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_unreadable_private_key(pem):
    """Garbage is an InvalidKey, not a cryptography exception."""
    with pytest.raises(InvalidKey) as caught:
        keys.load_private_key(pem)
    assert caught.value.code == "invalid_key"


def test_ec_private_key_is_refused():
    """Only RSA and Ed25519 private keys are accepted."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidKey, match="RSA and Ed25519"):
        keys.load_private_key(pem)


def test_public_pem_forms():
    """SubjectPublicKeyInfo and PKCS#1 RSA PEM, and Ed25519 PEM, all parse."""
    rsa_private = keys.load_private_key((FIXTURES / "rfc9421-test-key-rsa.pem").read_text())
    pkcs1 = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert keys.parse_public_key_pem(pkcs1) == rsa_private.public_key()
    ed = keys.parse_public_key_pem((FIXTURES / "rfc9421-test-key-ed25519.pub.pem").read_text())
    assert isinstance(ed, Ed25519PublicKey)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024), "2048"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "RSA and Ed25519"),
    ],
    ids=["rsa-1024", "ecdsa"],
)
def test_weak_or_unsupported_public_keys_are_refused(make, message):
    """RSA keys under 2048 bits and non-RSA, non-Ed25519 keys are refused."""
    pem = keys.render_public_key_pem(make().public_key())
    with pytest.raises(InvalidKey, match=message):
        keys.parse_public_key_pem(pem)


def test_unreadable_public_key():
    """A broken publicKeyPem is an InvalidKey."""
    with pytest.raises(InvalidKey):
        keys.parse_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")


def test_fep_521a_multikey_decodes_to_the_published_key():
    """FEP-521a's z6Mk… key decodes to the same bytes as its base64url form, and back."""
    encoded = base64.urlsafe_b64decode(FEP_521A_BASE64URL + "==")
    assert encoded[:2] == b"\xed\x01"
    key = keys.parse_public_key_multibase(FEP_521A_MULTIBASE)
    assert raw(key) == encoded[2:]
    assert keys.render_public_key_multibase(key) == FEP_521A_MULTIBASE


@given(st.binary(min_size=32, max_size=32))
def test_multikey_round_trip(seed):
    """Any Ed25519 key survives render then parse as publicKeyMultibase."""
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    assert raw(keys.parse_public_key_multibase(keys.render_public_key_multibase(key))) == raw(key)


@pytest.mark.parametrize(
    "value",
    [
        "u7QGwDY2Tjn93PVFWWq02piP1NE9_XRlg-c8-jhJiDqKBDw",  # base64url, not base58btc
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0",  # '0' is not base58
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbT",  # too short
        "zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",  # a P-256 Multikey
        "z",
    ],
)
def test_bad_multikeys_are_refused(value):
    """Other bases, bad digits, wrong lengths and other key types are InvalidKey."""
    with pytest.raises(InvalidKey):
        keys.parse_public_key_multibase(value)


def test_sign_and_verify_primitives_match_key_and_algorithm():
    """Each algorithm verifies its own signatures and refuses a mismatched key type."""
    rsa_key = keys.load_private_key((FIXTURES / "rfc9421-test-key-rsa.pem").read_text())
    ed_key = Ed25519PrivateKey.generate()
    for private, algorithm in [
        (rsa_key, keys.RSA_V1_5_SHA256),
        (rsa_key, keys.RSA_PSS_SHA512),
        (ed_key, keys.ED25519),
    ]:
        signature = keys.sign_bytes(private, algorithm, b"base")
        assert keys.verify_bytes(private.public_key(), algorithm, signature, b"base")
        assert not keys.verify_bytes(private.public_key(), algorithm, signature, b"other")
    assert not keys.verify_bytes(ed_key.public_key(), keys.RSA_V1_5_SHA256, b"x" * 64, b"base")
    assert not keys.verify_bytes(rsa_key.public_key(), keys.ED25519, b"x" * 256, b"base")
    assert not keys.verify_bytes(rsa_key.public_key(), "hmac-sha256", b"x", b"base")
    with pytest.raises(ValueError):
        keys.sign_bytes(ed_key, keys.RSA_V1_5_SHA256, b"base")
    with pytest.raises(ValueError):
        keys.sign_bytes(rsa_key, keys.ED25519, b"base")


def test_default_algorithms_follow_the_key_type():
    """Without an algorithm, RSA may be PKCS#1 v1.5 or PSS; Ed25519 is Ed25519."""
    rsa_key = keys.load_private_key((FIXTURES / "rfc9421-test-key-rsa.pem").read_text())
    assert keys.default_algorithms(rsa_key.public_key()) == (
        keys.RSA_V1_5_SHA256,
        keys.RSA_PSS_SHA512,
    )
    assert keys.default_algorithms(Ed25519PrivateKey.generate().public_key()) == (keys.ED25519,)


def info(owner: str) -> keys.PublicKeyInfo:
    return keys.PublicKeyInfo(owner, Ed25519PrivateKey.generate().public_key())


def test_cache_drops_the_least_recently_used():
    """The cache holds at most max_entries; a lookup makes an entry recent again."""
    cache = keys.PublicKeyCache(max_entries=2)
    a, b, c = info("a"), info("b"), info("c")
    cache.put("a#key", a)
    cache.put("b#key", b)
    assert cache.get("a#key") is a
    cache.put("c#key", c)
    assert cache.get("b#key") is None
    assert cache.get("a#key") is a and cache.get("c#key") is c
    assert len(cache) == 2 and "a#key" in cache


def test_cache_replaces_and_discards():
    """Putting a keyId again replaces its key (rotation); discard forgets it."""
    cache = keys.PublicKeyCache()
    old, new = info("a"), info("a")
    cache.put("a#key", old)
    cache.put("a#key", new)
    assert cache.get("a#key") is new and len(cache) == 1
    cache.discard("a#key")
    cache.discard("never-there")
    assert cache.get("a#key") is None


def test_caches_are_independent():
    """Two caches share nothing (no module-level state)."""
    first, second = keys.PublicKeyCache(), keys.PublicKeyCache()
    first.put("a#key", info("a"))
    assert second.get("a#key") is None
    with pytest.raises(ValueError):
        keys.PublicKeyCache(max_entries=0)
