"""Body digests: draft-cavage ``Digest`` and RFC 9530 ``Content-Digest``, made and checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub import digest
from activitypub.errors import DigestMalformed, DigestMismatch

HELLO = b"Hello world"
HELLO_SHA256 = "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="  # Mastodon's spec
JSON = b'{"hello": "world"}'
# RFC 9530's examples and RFC 9421's test request give these for {"hello": "world"}.
JSON_SHA256 = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
JSON_SHA512 = (
    "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew=="
)


def test_render_digest_matches_mastodon():
    """Digest of "Hello world" is Mastodon's published value."""
    assert digest.render_digest(HELLO) == f"SHA-256={HELLO_SHA256}"


@pytest.mark.parametrize(
    ("algorithm", "expected"), [("sha-256", JSON_SHA256), ("sha-512", JSON_SHA512)]
)
def test_render_content_digest_matches_the_rfcs(algorithm, expected):
    """Content-Digest of {"hello": "world"} is the RFCs' published value."""
    assert digest.render_content_digest(JSON, algorithm=algorithm) == f"{algorithm}=:{expected}:"


def test_render_content_digest_refuses_unknown_algorithms():
    """Only sha-256 and sha-512 can be produced."""
    with pytest.raises(ValueError):
        digest.render_content_digest(JSON, algorithm="md5")


@pytest.mark.parametrize(
    "value",
    [
        f"SHA-256={JSON_SHA256}",
        f"sha-256={JSON_SHA256}",
        f"SHA-512={JSON_SHA512}",
        f"MD5=whatever, SHA-256={JSON_SHA256}",
        f"SHA-256={JSON_SHA256},SHA-512={JSON_SHA512}",
    ],
)
def test_verify_digest_accepts(value):
    """Matching SHA-256/SHA-512 entries pass; unknown algorithms beside them are ignored."""
    assert digest.verify_digest(value, JSON) is None  # it raises on any mismatch


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (f"SHA-256={HELLO_SHA256}", DigestMismatch),
        (f"SHA-256={JSON_SHA256}, SHA-512={HELLO_SHA256}", DigestMismatch),
        ("MD5=Sd/dVLAcvNLSq16eXua5uQ==", DigestMalformed),
        ("SHA-256", DigestMalformed),
        ("SHA-512=not*base64", DigestMalformed),
        ("SHA-256=not*base64", DigestMismatch),
        ("SHA-256=é", DigestMismatch),
        ("", DigestMalformed),
    ],
)
def test_verify_digest_refuses(value, error):
    """A wrong, unknown-only or unreadable Digest is refused with its own error."""
    with pytest.raises(error):
        digest.verify_digest(value, JSON)


@pytest.mark.parametrize(
    "value",
    [
        f"sha-256=:{JSON_SHA256}:",
        f"sha-512=:{JSON_SHA512}:",
        f"sha-256=:{JSON_SHA256}:, sha-512=:{JSON_SHA512}:",
        f"unixsum=:AAAA:, sha-256=:{JSON_SHA256}:;note=1",
    ],
)
def test_verify_content_digest_accepts(value):
    """Matching sha-256/sha-512 members pass; unknown members and parameters are ignored."""
    assert digest.verify_content_digest(value, JSON) is None  # it raises on any mismatch


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (f"sha-256=:{HELLO_SHA256}:", DigestMismatch),
        (f"sha-256={JSON_SHA256}", DigestMalformed),
        ("unixsum=:AAAA:", DigestMalformed),
        ("sha-256=:%%%:", DigestMalformed),
        ("", DigestMalformed),
    ],
)
def test_verify_content_digest_refuses(value, error):
    """A wrong, unknown-only or unreadable Content-Digest is refused with its own error."""
    with pytest.raises(error) as caught:
        digest.verify_content_digest(value, JSON)
    assert caught.value.code in ("digest_mismatch", "digest_malformed")


@given(st.binary(max_size=4096), st.sampled_from(["sha-256", "sha-512"]))
def test_digests_round_trip(body, algorithm):
    """Whatever we render for a body verifies against that body and no other."""
    digest.verify_digest(digest.render_digest(body), body)
    digest.verify_content_digest(digest.render_content_digest(body, algorithm=algorithm), body)
    with pytest.raises(DigestMismatch):
        digest.verify_content_digest(digest.render_content_digest(body), body + b"!")
