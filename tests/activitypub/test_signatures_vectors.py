"""Published test vectors: Mastodon's draft-cavage signatures and RFC 9421's examples.

Mastodon's come from ``spec/requests/signature_verification_spec.rb`` (fixed RSA key,
time frozen at 2023-12-20T10:00:00Z). RFC 9421's come from its Appendix B and §4.3;
the keys are the RFC's test keys (B.1), stored under tests/fixtures/signatures/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activitypub import keys, rfc9421, signatures
from activitypub.errors import (
    DateOutOfWindow,
    DigestMismatch,
    HeadersNotSigned,
    SignatureInvalid,
    SignatureMalformed,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "signatures"

# --- Mastodon, spec/requests/signature_verification_spec.rb -----------------------------

MASTODON_KEY_ID = "https://remote.domain/users/bob#main-key"
MASTODON_ACTOR = "https://remote.domain/users/bob"
MASTODON_NOW = datetime(2023, 12, 20, 10, 0, 0, tzinfo=UTC)
MASTODON_DATE = "Wed, 20 Dec 2023 10:00:00 GMT"
MASTODON_HOST = "www.example.com"
MASTODON_GET_SIGNATURE = (
    "Z8ilar3J7bOwqZkMp7sL8sRs4B1FT+UorbmvWoE+A5UeoOJ3KBcUmbsh+k3wQwbP5gMNUrra9rEWabpasZGphLsbDxfb"
    "sWL3Cf0PllAc7c1c7AFEwnewtExI83/qqgEkfWc2z7UDutXc2NfgAx89Ox8DXU/fA2GG0jILjB6UpFyNugkY9rg6oI31"
    "UnvfVi3R7sr3/x8Ea3I9thPvqI2byF6cojknSpDAwYzeKdngX3TAQEGzFHz3SDWwyp3jeMWfwvVVbM38FxhvAnSumw7Y"
    "wWW4L7M7h4M68isLimoT3yfCn2ucBVL5Dz8koBpYf/40w7QidClAwCafZQFC29yDOg=="
)
MASTODON_GET_QUERY_SIGNATURE = (
    "SDMa4r/DQYMXYxVgYO2yEqGWWUXugKjVuz0I8dniQAk+aunzBaF2aPu+4grBfawAshlx1Xytl8lhb0H2MllEz16/tKY7"
    "rUrb70MK0w8ohXgpb0qs3YvQgdj4X24L1x2MnkFfKHR/J+7TBlnivq0HZqXm8EIkPWLv+eQxu8fbowLwHIVvRd/3t6Fz"
    "vcfsE0UZKkoMEX02542MhwSif6cu7Ec/clsY9qgKahb9JVGOGS1op9Lvg/9y1mc8KCgD83U5IxVygYeYXaVQ6gixA9Ng"
    "ZiTCwEWzHM5ELm7w5hpdLFYxYOHg/3G3fiqJzpzNQAcCD4S4JxfE7hMI0IzVlNLT6A=="
)
MASTODON_BAD_DATE_SIGNATURE = (
    "d4B7nfx8RJcfdJDu1J//5WzPzK/hgtPkdzZx49lu5QhnE7qdV3lgyVimmhCFrO16bwvzIp9iRMyRLkNFxLiEeVaa1gqe"
    "KbldGSnU0B0OMjx7rFBa65vLuzWQOATDitVGiBEYqoK4v0DMuFCz2DtFaA/DIUZ3sty8bZ/Ea3U1nByLOO6MacARA3zh"
    "MSI0GNxGqsSmZmG0hPLavB3jIXoE3IDoQabMnC39jrlcO/a8h1iaxBm2WD8TejrImJullgqlJIFpKhIHI3ipQkvTGPlm"
    "9dx0y+beM06qBvWaWQcmT09eRIUefVsOAzIhUtS/7FVb/URhZvircIJDa7vtiFcmZQ=="
)
MASTODON_OLD_DATE_SIGNATURE = (
    "G1NuJv4zgoZ3B/ZIjzDWZHK4RC+5pYee74q8/LJEMCWXhcnAomcb9YHaqk1QYfQvcBUIXw3UZ3Q9xO8F9y0i8G5mzJHf"
    "Q+OgHqCoJk8EmGwsUXJMh5s1S5YFCRt8TT12TmJZz0VMqLq85ubueSYBM7QtUE/FzFIVLvz4RysgXxaXQKzdnM6+gbUE"
    "EKdCURpXdQt2NXQhp4MAmZH3+0lQoR6VxdsK0hx0Ji2PNp1nuqFTlYqNWZazVdLBN+9rETLRmvGXknvg9jOxTTppBVWn"
    "kAIl26HtLS3wwFVvz4pJzi9OQDOvLziehVyLNbU61hky+oJ215e2HuKSe2hxHNl1MA=="
)
MASTODON_POST_DIGEST = "SHA-256=ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="
MASTODON_POST_SIGNATURE = (
    "gmhMjgMROGElJU3fpehV2acD5kMHeELi8EFP2UPHOdQ54H0r55AxIpji+J3lPe+N2qSb/4H1KXIh6f0lRu8TGSsu12OQ"
    "mg5hiO8VA9flcA/mh9Lpk+qwlQZIPRqKP9xUEfqD+Z7ti5wPzDKrWAUK/7FIqWgcT/mlqB1R1MGkpMFc/q4CIs2OSNiW"
    "gA4K+Kp21oQxzC2kUuYob04gAZ7cyE/FTia5t08uv6lVYFdRsn4XNPn1MsHgFBwBMRG79ng3SyhoG4PrqBEi5q2IdLq3"
    "zfre/M6He3wlCpyO2VJNdGVoTIzeZ0Zz8jUscPV3XtWUchpGclLGSaKaq/JyNZeiYQ=="
)
MASTODON_POST_UNSIGNED_DIGEST_SIGNATURE = (
    "CPD704CG8aCm8X8qIP8kkkiGp1qwFLk/wMVQHOGP0Txxan8c2DZtg/KK7eN8RG8tHx8br/yS2hJs51x4kXImYukGzNJd"
    "7ihE3T8lp+9RI1tCcdobTzr/VcVJHDFySdQkg266GCMijRQRZfNvqlJLiisr817PI+gNVBI5qV+vnVd1XhWCEZ+YSmMe"
    "8UqYARXAYNqMykTheojqGpTeTFGPUpTQA2Fmt2BipwIjcFDm2Hpihl2kB0MUS0x3zPmHDuadvzoBbN6m3usPDLgYrpAL"
    "lh+wDs1dYMntcwdwawRKY1oE1XNtgOSum12wntDq3uYL4gya2iPdcw3c929b4koUzw=="
)


def mastodon_header(headers: str, signature: str) -> str:
    return (
        f'keyId="{MASTODON_KEY_ID}",algorithm="rsa-sha256",headers="{headers}",'
        f'signature="{signature}"'
    )


@pytest.fixture(scope="module")
def mastodon_key() -> keys.PrivateKey:
    return keys.load_private_key((FIXTURES / "mastodon-test-key.pem").read_bytes())


def resolver_for(owner: str, key: keys.PublicKey):
    async def resolve(key_id: str, *, refresh: bool) -> keys.PublicKeyInfo:
        return keys.PublicKeyInfo(owner, key)

    return resolve


async def verify_mastodon(key, method, path, headers, body=b""):
    return await signatures.verify_request(
        method=method,
        target_uri=f"https://{MASTODON_HOST}{path}",
        headers={"Host": MASTODON_HOST, **headers},
        body=body,
        resolve_key=resolver_for(MASTODON_ACTOR, key.public_key()),
        now=MASTODON_NOW,
    )


@pytest.mark.parametrize(
    ("path", "signature"),
    [
        ("/activitypub/success", MASTODON_GET_SIGNATURE),
        ("/activitypub/success?foo=42", MASTODON_GET_QUERY_SIGNATURE),
    ],
)
def test_mastodon_get_vectors_are_reproduced(mastodon_key, path, signature):
    """Our cavage signer produces Mastodon's GET Signature headers byte for byte."""
    added = signatures.sign_request(
        "GET",
        f"https://{MASTODON_HOST}{path}",
        {"Host": MASTODON_HOST, "Date": MASTODON_DATE},
        key_id=MASTODON_KEY_ID,
        private_key=mastodon_key,
        signed_headers=("date", "host", "(request-target)"),
    )
    assert added == {"Signature": mastodon_header("date host (request-target)", signature)}


def test_mastodon_post_vector_is_reproduced(mastodon_key):
    """Our signer adds Mastodon's Digest for "Hello world" and its exact POST signature."""
    added = signatures.sign_request(
        "POST",
        f"https://{MASTODON_HOST}/activitypub/success",
        {"Host": MASTODON_HOST, "Date": MASTODON_DATE},
        b"Hello world",
        key_id=MASTODON_KEY_ID,
        private_key=mastodon_key,
        signed_headers=("host", "date", "digest", "(request-target)"),
    )
    assert added == {
        "Digest": MASTODON_POST_DIGEST,
        "Signature": mastodon_header("host date digest (request-target)", MASTODON_POST_SIGNATURE),
    }


@pytest.mark.parametrize(
    ("path", "signature"),
    [
        ("/activitypub/success", MASTODON_GET_SIGNATURE),
        ("/activitypub/success?foo=42", MASTODON_GET_QUERY_SIGNATURE),
        # Mastodon's compatibility quirk: signed without the query string, sent with it.
        ("/activitypub/success?foo=42", MASTODON_GET_SIGNATURE),
    ],
)
async def test_mastodon_get_vectors_verify(mastodon_key, path, signature):
    """Mastodon's valid GET signatures verify, including the query-less fallback."""
    headers = {
        "Date": MASTODON_DATE,
        "Signature": mastodon_header("date host (request-target)", signature),
    }
    verified = await verify_mastodon(mastodon_key, "GET", path, headers)
    assert verified == signatures.VerifiedSignature(MASTODON_KEY_ID, MASTODON_ACTOR, "draft-cavage")


async def test_mastodon_post_vector_verifies(mastodon_key):
    """Mastodon's valid POST signature (digest signed and matching) verifies."""
    headers = {
        "Date": MASTODON_DATE,
        "Digest": MASTODON_POST_DIGEST,
        "Signature": mastodon_header("host date digest (request-target)", MASTODON_POST_SIGNATURE),
    }
    verified = await verify_mastodon(
        mastodon_key, "POST", "/activitypub/success", headers, b"Hello world"
    )
    assert verified.owner == MASTODON_ACTOR


@pytest.mark.parametrize(
    ("method", "path", "signature", "body"),
    [
        ("GET", "/activitypub/success?foo=43", MASTODON_GET_QUERY_SIGNATURE, b""),
        ("GET", "/activitypub/alternative-path", MASTODON_GET_SIGNATURE, b""),
    ],
    ids=["mismatching query", "mismatching path"],
)
async def test_mastodon_mismatched_requests_fail(mastodon_key, method, path, signature, body):
    """Mastodon's vectors replayed on another query or path do not verify."""
    headers = {
        "Date": MASTODON_DATE,
        "Signature": mastodon_header("date host (request-target)", signature),
    }
    with pytest.raises(SignatureInvalid):
        await verify_mastodon(mastodon_key, method, path, headers, body)


async def test_mastodon_get_signature_is_refused_on_post(mastodon_key):
    """A GET signature sent on a POST fails: a POST must sign its digest."""
    headers = {
        "Date": MASTODON_DATE,
        "Signature": mastodon_header("date host (request-target)", MASTODON_GET_SIGNATURE),
    }
    with pytest.raises(HeadersNotSigned) as caught:
        await verify_mastodon(mastodon_key, "POST", "/activitypub/success", headers)
    assert caught.value.code == "headers_not_signed"


async def test_mastodon_unparsable_date_fails(mastodon_key):
    """Mastodon's 'wrong date' vector is refused as malformed."""
    headers = {
        "Date": "wrong date",
        "Signature": mastodon_header("date host (request-target)", MASTODON_BAD_DATE_SIGNATURE),
    }
    with pytest.raises(SignatureMalformed, match="not an HTTP date"):
        await verify_mastodon(mastodon_key, "GET", "/activitypub/success", headers)


async def test_mastodon_request_older_than_a_day_fails(mastodon_key):
    """Mastodon's vector dated two days earlier is outside the window."""
    headers = {
        "Date": "Wed, 18 Dec 2023 10:00:00 GMT",
        "Signature": mastodon_header("date host (request-target)", MASTODON_OLD_DATE_SIGNATURE),
    }
    with pytest.raises(DateOutOfWindow):
        await verify_mastodon(mastodon_key, "GET", "/activitypub/success", headers)


async def test_mastodon_unsigned_digest_on_post_fails(mastodon_key):
    """Mastodon's POST vector that leaves the Digest unsigned is refused."""
    headers = {
        "Date": MASTODON_DATE,
        "Digest": MASTODON_POST_DIGEST,
        "Signature": mastodon_header(
            "host date (request-target)", MASTODON_POST_UNSIGNED_DIGEST_SIGNATURE
        ),
    }
    with pytest.raises(HeadersNotSigned, match="digest"):
        await verify_mastodon(mastodon_key, "POST", "/activitypub/success", headers, b"Hello world")


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/activitypub/success", b"Hello world!", DigestMismatch),
        ("/activitypub/alternative-path", b"Hello world", SignatureInvalid),
    ],
    ids=["tampered body", "tampered path"],
)
async def test_mastodon_tampered_posts_fail(mastodon_key, path, body, error):
    """Mastodon's POST vector with another body or path is refused."""
    headers = {
        "Date": MASTODON_DATE,
        "Digest": MASTODON_POST_DIGEST,
        "Signature": mastodon_header("host date digest (request-target)", MASTODON_POST_SIGNATURE),
    }
    with pytest.raises(error):
        await verify_mastodon(mastodon_key, "POST", path, headers, body)


# --- RFC 9421, Appendix B and §4.3 ----------------------------------------------------------

RFC_CREATED = datetime.fromtimestamp(1618884473, UTC)
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
RFC_BODY = b'{"hello": "world"}'
RFC_CONTENT_DIGEST = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJ"
    "wew==:"
)
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": RFC_CONTENT_DIGEST,
    "Content-Length": "18",
}
B21_INPUT = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
B21_SIGNATURE = (
    "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wg"
    "GxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWh"
    "zx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5Tm"
    "cAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:"
)
B22_INPUT = (
    'sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473'
    ';keyid="test-key-rsa-pss";tag="header-example"'
)
B22_SIGNATURE = (
    "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtj"
    "vuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17"
    "SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5"
    "rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:"
)
B23_INPUT = (
    'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" '
    '"content-length");created=1618884473;keyid="test-key-rsa-pss"'
)
B23_SIGNATURE = (
    "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt68"
    "3+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJ"
    "H1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH"
    "8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:"
)
B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpB"
    "KRCw==:"
)
PROXY_URL = "https://origin.host.internal.example/foo?param=Value&Pet=dog"
PROXY_HEADERS = {
    "Host": "origin.host.internal.example",
    "Date": "Tue, 20 Apr 2021 02:07:56 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Forwarded": "for=192.0.2.123;host=example.com;proto=https",
    "Content-Digest": RFC_CONTENT_DIGEST,
}
PROXY_INPUT = (
    'proxy_sig=("@method" "@authority" "@path" "content-digest" "content-type" "content-length" '
    '"forwarded");created=1618884480;keyid="test-key-rsa";alg="rsa-v1_5-sha256";expires=1618884540'
)
PROXY_SIGNATURE = (
    "proxy_sig=:S6ZzPXSdAMOPjN/6KXfXWNO/f7V6cHm7BXYUh3YD/fRad4BCaRZxP+JH+8XY1I6+8Cy+CM5g92iHgxtRPz+"
    "MjniOaYmdkDcnL9cCpXJleXsOckpURl49GwiyUpZ10KHgOEe11sx3G2gxI8S0jnxQB+Pu68U9vVcasqOWAEObtNKKZd8t"
    "SFu7LB5YAv0RAGhB8tmpv7sFnIm9y+7X5kXQfi8NMaZaA8i2ZHwpBdg7a6CMfwnnrtflzvZdXAsD3LH2TwevU+/PBPv0"
    "B6NMNk93wUs/vfJvye+YuI87HU38lZHowtznbLVdp770I6VHR6WfgS9ddzirrswsE1w5o0LV/g==:"
)


def fixture_key(name: str):
    return keys.load_private_key((FIXTURES / name).read_bytes())


def rfc_public_key(name: str) -> keys.PublicKey:
    return keys.parse_public_key_pem((FIXTURES / name).read_bytes())


def signature_base_and_bytes(url, headers, signature_input, signature):
    """Our signature base for the labelled signature, and the signature bytes."""
    lowered = {name.lower(): value for name, value in headers.items()}
    [(label, covered)] = rfc9421.parse_dictionary(signature_input).items()
    signed = rfc9421.parse_dictionary(signature)[label]
    return rfc9421.render_signature_base(covered, "POST", url, lowered), signed.value


def test_rfc9421_b21_signature_base_matches_the_rfc():
    """B.2.1's signature base is exactly the RFC's single @signature-params line."""
    base, _ = signature_base_and_bytes(RFC_URL, RFC_HEADERS, B21_INPUT, B21_SIGNATURE)
    assert base == (
        b'"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss"'
        b';nonce="b3k2pp5k7z-50gnwp.yemd"'
    )


def test_rfc9421_b22_signature_base_matches_the_rfc():
    """B.2.2's base (authority, digest, one query parameter, a tag) is the RFC's."""
    base, _ = signature_base_and_bytes(RFC_URL, RFC_HEADERS, B22_INPUT, B22_SIGNATURE)
    assert base.decode().split("\n") == [
        '"@authority": example.com',
        f'"content-digest": {RFC_CONTENT_DIGEST}',
        '"@query-param";name="Pet": dog',
        '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet")'
        ';created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
    ]


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [(B21_INPUT, B21_SIGNATURE), (B22_INPUT, B22_SIGNATURE), (B23_INPUT, B23_SIGNATURE)],
    ids=["B.2.1", "B.2.2", "B.2.3"],
)
def test_rfc9421_rsa_pss_signatures_verify(signature_input, signature):
    """The RFC's rsa-pss-sha512 signatures (random, so not reproducible) verify with its key."""
    base, signed = signature_base_and_bytes(RFC_URL, RFC_HEADERS, signature_input, signature)
    key = rfc_public_key("rfc9421-test-key-rsa-pss.pub.pem")
    assert keys.verify_bytes(key, keys.RSA_PSS_SHA512, signed, base)
    assert not keys.verify_bytes(key, keys.RSA_PSS_SHA512, signed, base + b" ")
    assert not keys.verify_bytes(key, keys.RSA_V1_5_SHA256, signed, base)


async def test_rfc9421_b23_passes_our_rules_and_verifies():
    """B.2.3 covers method, authority, path, query and digest: the full check accepts it."""
    verified = await signatures.verify_request(
        method="POST",
        target_uri=RFC_URL,
        headers={**RFC_HEADERS, "Signature-Input": B23_INPUT, "Signature": B23_SIGNATURE},
        body=RFC_BODY,
        resolve_key=resolver_for(
            "https://example.com/actor", rfc_public_key("rfc9421-test-key-rsa-pss.pub.pem")
        ),
        now=RFC_CREATED,
    )
    assert verified == signatures.VerifiedSignature(
        "test-key-rsa-pss", "https://example.com/actor", "rfc9421"
    )


def test_rfc9421_b26_ed25519_is_reproduced():
    """Our RFC 9421 signer reproduces B.2.6 (deterministic Ed25519) exactly."""
    added = signatures.sign_request_rfc9421(
        "POST",
        RFC_URL,
        RFC_HEADERS,
        RFC_BODY,
        key_id="test-key-ed25519",
        private_key=fixture_key("rfc9421-test-key-ed25519.pem"),
        now=RFC_CREATED,
        label="sig-b26",
        components=("date", "@method", "@path", "@authority", "content-type", "content-length"),
        include_alg=False,
    )
    assert added == {"Signature-Input": B26_INPUT, "Signature": B26_SIGNATURE}


async def test_rfc9421_b26_verifies_but_fails_our_coverage_rules():
    """B.2.6 is cryptographically valid, yet lacks @query and content-digest for an inbox."""
    base, signed = signature_base_and_bytes(RFC_URL, RFC_HEADERS, B26_INPUT, B26_SIGNATURE)
    public = rfc_public_key("rfc9421-test-key-ed25519.pub.pem")
    assert keys.verify_bytes(public, keys.ED25519, signed, base)
    with pytest.raises(HeadersNotSigned, match=r"@target-uri.*content-digest"):
        await signatures.verify_request(
            method="POST",
            target_uri=RFC_URL,
            headers={**RFC_HEADERS, "Signature-Input": B26_INPUT, "Signature": B26_SIGNATURE},
            body=RFC_BODY,
            resolve_key=resolver_for("https://example.com/actor", public),
            now=RFC_CREATED,
        )


def test_rfc9421_rsa_v1_5_proxy_signature_is_reproduced():
    """§4.3's rsa-v1_5-sha256 proxy signature (test-key-rsa, with expires) is reproduced."""
    created = datetime.fromtimestamp(1618884480, UTC)
    added = signatures.sign_request_rfc9421(
        "POST",
        PROXY_URL,
        PROXY_HEADERS,
        RFC_BODY,
        key_id="test-key-rsa",
        private_key=fixture_key("rfc9421-test-key-rsa.pem"),
        now=created,
        label="proxy_sig",
        components=(
            "@method",
            "@authority",
            "@path",
            "content-digest",
            "content-type",
            "content-length",
            "forwarded",
        ),
        expires=created + timedelta(seconds=60),
    )
    assert added == {"Signature-Input": PROXY_INPUT, "Signature": PROXY_SIGNATURE}


def test_rfc9421_rsa_v1_5_proxy_signature_verifies():
    """§4.3's proxy signature verifies with the public half of test-key-rsa."""
    base, signed = signature_base_and_bytes(PROXY_URL, PROXY_HEADERS, PROXY_INPUT, PROXY_SIGNATURE)
    public = fixture_key("rfc9421-test-key-rsa.pem").public_key()
    assert keys.verify_bytes(public, keys.RSA_V1_5_SHA256, signed, base)


async def test_rfc9421_second_signature_is_used_when_the_first_is_not_usable():
    """Of several signatures, the first that meets our rules is the one verified."""
    headers = {
        **RFC_HEADERS,
        "Signature-Input": f"{B26_INPUT}, {B23_INPUT}",
        "Signature": f"{B26_SIGNATURE}, {B23_SIGNATURE}",
    }
    verified = await signatures.verify_request(
        method="POST",
        target_uri=RFC_URL,
        headers=headers,
        body=RFC_BODY,
        resolve_key=resolver_for(
            "https://example.com/actor", rfc_public_key("rfc9421-test-key-rsa-pss.pub.pem")
        ),
        now=RFC_CREATED,
    )
    assert verified.key_id == "test-key-rsa-pss"


def test_rfc9421_test_keys_match_their_published_public_halves():
    """The stored Ed25519 private key derives the RFC's published public key."""
    private = fixture_key("rfc9421-test-key-ed25519.pem")
    published = (FIXTURES / "rfc9421-test-key-ed25519.pub.pem").read_text()
    assert keys.render_public_key_pem(private.public_key()) == published
