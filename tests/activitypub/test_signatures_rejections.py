"""What the verifier refuses, and why: each failure is a typed error with its own code.

Also key rotation (one refetch, then give up) and sign-then-verify properties."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from activitypub import cavage, errors, keys, signatures
from activitypub.digest import render_digest

ACTOR = "https://remote.example/users/bob"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://local.example/users/alice/inbox"
BODY = b'{"type": "Create", "actor": "https://remote.example/users/bob"}'
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SCHEMES = ["draft-cavage", "rfc9421"]


@pytest.fixture(scope="module")
def key() -> keys.PrivateKey:
    return keys.load_private_key(keys.generate_rsa_keypair().private_key_pem)


@pytest.fixture(scope="module")
def other_key() -> keys.PrivateKey:
    return keys.load_private_key(keys.generate_rsa_keypair().private_key_pem)


class Resolver:
    """A key directory: each call answers the next key in line (a refresh moves on)."""

    def __init__(self, *answers: keys.PublicKey | Exception) -> None:
        self.answers = answers
        self.calls: list[tuple[str, bool]] = []

    async def __call__(self, key_id: str, *, refresh: bool) -> keys.PublicKeyInfo:
        self.calls.append((key_id, refresh))
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return keys.PublicKeyInfo(ACTOR, answer)


def sign(scheme, private_key, *, method="POST", url=INBOX, body=BODY, at=NOW, **options):
    """A request's headers, signed as the given scheme."""
    given = {"Content-Type": "application/activity+json"} if method == "POST" else {}
    signer = (
        signatures.sign_request if scheme == "draft-cavage" else signatures.sign_request_rfc9421
    )
    added = signer(
        method, url, given, body, key_id=KEY_ID, private_key=private_key, now=at, **options
    )
    return {**given, **added}


async def verify(headers, resolver, *, method="POST", url=INBOX, body=BODY, at=NOW):
    return await signatures.verify_request(
        method=method, target_uri=url, headers=headers, body=body, resolve_key=resolver, now=at
    )


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_signed_requests_verify(key, scheme, method):
    """Our own POSTs and GETs, in both schemes, verify with one key lookup."""
    resolver = Resolver(key.public_key())
    body = BODY if method == "POST" else b""
    headers = sign(scheme, key, method=method, body=body)
    verified = await verify(headers, resolver, method=method, body=body)
    assert verified == signatures.VerifiedSignature(KEY_ID, ACTOR, scheme)
    assert resolver.calls == [(KEY_ID, False)]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer abc"}, {"Signature": ""}],
    ids=["no headers", "bearer token", "empty"],
)
async def test_missing_signature(key, headers):
    """A request without any signature header is refused as unsigned, before any lookup."""
    resolver = Resolver(key.public_key())
    with pytest.raises(errors.SignatureMissing) as caught:
        await verify({"Date": "x", **headers}, resolver)
    assert caught.value.code == "signature_missing"
    assert resolver.calls == []


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_tampered_body_is_a_digest_mismatch(key, scheme):
    """Another body under the same signature fails on the digest, before any key lookup."""
    resolver = Resolver(key.public_key())
    with pytest.raises(errors.DigestMismatch) as caught:
        await verify(sign(scheme, key), resolver, body=BODY + b" ")
    assert caught.value.code == "digest_mismatch"
    assert resolver.calls == []


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_tampered_signed_header(key, scheme):
    """Changing a signed header (Content-Type) breaks the signature, even after a refetch."""
    resolver = Resolver(key.public_key())
    headers = {**sign(scheme, key), "Content-Type": "text/html"}
    with pytest.raises(errors.SignatureInvalid) as caught:
        await verify(headers, resolver)
    assert caught.value.code == "signature_invalid"
    assert resolver.calls == [(KEY_ID, False), (KEY_ID, True)]


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_other_target_is_refused(key, scheme):
    """A signature for one inbox does not verify on another."""
    with pytest.raises(errors.SignatureInvalid):
        await verify(sign(scheme, key), Resolver(key.public_key()), url=INBOX + "2")


async def test_tampered_date_is_refused(key):
    """A cavage Date moved by a second no longer matches the signature."""
    headers = {**sign("draft-cavage", key), "Date": "Sun, 01 Mar 2026 12:00:01 GMT"}
    with pytest.raises(errors.SignatureInvalid):
        await verify(headers, Resolver(key.public_key()))


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_wrong_key_is_refused(key, other_key, scheme):
    """A signature by another key fails, after exactly one refetch."""
    resolver = Resolver(other_key.public_key())
    with pytest.raises(errors.SignatureInvalid):
        await verify(sign(scheme, key), resolver)
    assert [refresh for _, refresh in resolver.calls] == [False, True]


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_rotated_key_is_refetched(key, other_key, scheme):
    """A stale cached key fails, the refetched (rotated) one verifies: accepted."""
    resolver = Resolver(other_key.public_key(), key.public_key())
    verified = await verify(sign(scheme, key), resolver)
    assert verified.owner == ACTOR
    assert resolver.calls == [(KEY_ID, False), (KEY_ID, True)]


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_rotation_to_another_wrong_key_is_refused(key, other_key, scheme):
    """If the refetched key is wrong too, the request fails and the resolver ran twice."""
    third = Ed25519PrivateKey.generate().public_key()
    resolver = Resolver(other_key.public_key(), third)
    with pytest.raises(errors.SignatureInvalid):
        await verify(sign(scheme, key), resolver)
    assert len(resolver.calls) == 2


async def test_unavailable_key_propagates(key):
    """The resolver's KeyUnavailable reaches the caller as is."""
    resolver = Resolver(errors.KeyUnavailable(KEY_ID))
    with pytest.raises(errors.KeyUnavailable) as caught:
        await verify(sign("draft-cavage", key), resolver)
    assert caught.value.code == "key_unavailable"


async def test_unusable_key_document_is_an_unavailable_key(key):
    """A protocol error in the resolver (an unreadable key) becomes KeyUnavailable."""
    resolver = Resolver(errors.InvalidKey("not a PEM public key we can read"))
    with pytest.raises(errors.KeyUnavailable) as caught:
        await verify(sign("rfc9421", key), resolver)
    assert isinstance(caught.value.__cause__, errors.InvalidKey)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(minutes=-64), True),
        (timedelta(minutes=-66), False),
        (timedelta(minutes=59), True),
        (timedelta(minutes=61), False),
        (timedelta(days=-1), False),
    ],
)
async def test_time_window(key, scheme, offset, accepted):
    """Signed up to an hour ahead or ~65 minutes ago is accepted; outside, refused."""
    headers = sign(scheme, key, at=NOW + offset)
    if accepted:
        assert await verify(headers, Resolver(key.public_key()))
    else:
        with pytest.raises(errors.DateOutOfWindow) as caught:
            await verify(headers, Resolver(key.public_key()))
        assert caught.value.code == "date_out_of_window"


@pytest.mark.parametrize(
    ("expires_after", "checked_after", "accepted"),
    [
        (timedelta(hours=3), timedelta(hours=3, minutes=59), True),
        (timedelta(hours=3), timedelta(hours=4, minutes=1), False),
        (timedelta(days=2), timedelta(hours=12, minutes=59), True),
        (timedelta(days=2), timedelta(hours=13, minutes=1), False),
    ],
)
def test_expiry_is_honoured_and_capped(expires_after, checked_after, accepted):
    """An expiry extends the window up to twelve hours (plus the hour of skew), no further."""
    created = int(NOW.timestamp())
    expires = created + int(expires_after.total_seconds())
    at = created + int(checked_after.total_seconds())
    if accepted:
        signatures.check_time_window(created, expires, at)
    else:
        with pytest.raises(errors.DateOutOfWindow):
            signatures.check_time_window(created, expires, at)


async def test_rfc9421_expires_is_honoured(key):
    """An RFC 9421 signature is refused an hour after its own expiry."""
    headers = sign("rfc9421", key, expires=NOW + timedelta(seconds=30))
    assert await verify(headers, Resolver(key.public_key()), at=NOW + timedelta(minutes=60))
    with pytest.raises(errors.DateOutOfWindow):
        await verify(headers, Resolver(key.public_key()), at=NOW + timedelta(minutes=61))


async def test_cavage_signed_created_and_expires_are_honoured(key):
    """A cavage signature over (created) and (expires) is timed by them, not by Date."""
    created = int((NOW - timedelta(hours=5)).timestamp())
    names = ("(request-target)", "host", "(created)", "(expires)", "digest")
    headers = {"host": "local.example", "digest": render_digest(BODY)}
    unsigned = cavage.CavageSignature(KEY_ID, "hs2019", names, b"", created, created + 6 * 3600)
    base = cavage.render_signing_string(names, "POST", "/users/alice/inbox", headers, unsigned)
    signature = keys.sign_bytes(key, keys.RSA_V1_5_SHA256, base)
    headers["signature"] = cavage.render_signature_header(replace(unsigned, signature=signature))
    # Five hours old, but it expires in an hour: good until an hour after that.
    assert await verify(headers, Resolver(key.public_key()), at=NOW + timedelta(hours=2))
    with pytest.raises(errors.DateOutOfWindow):
        await verify(headers, Resolver(key.public_key()), at=NOW + timedelta(hours=2, seconds=1))


async def test_unsigned_expires_parameter_is_ignored(key):
    """An expires parameter outside the signed list cannot stretch the window."""
    headers = sign("draft-cavage", key, at=NOW - timedelta(hours=3))
    headers["Signature"] += f",expires={int(NOW.timestamp()) + 3600}"
    with pytest.raises(errors.DateOutOfWindow):
        await verify(headers, Resolver(key.public_key()))


@pytest.mark.parametrize(
    ("method", "signed_headers", "missing"),
    [
        ("POST", ("(request-target)", "host", "date"), "digest"),
        ("GET", ("(request-target)", "date"), "host"),
        ("POST", ("(request-target)", "host", "digest"), "date or (created)"),
        ("GET", ("host", "date"), "(request-target) or digest"),
    ],
)
async def test_cavage_required_headers(key, method, signed_headers, missing):
    """Mastodon's rules: digest on POST, host on GET, a date, and the target or digest."""
    body = BODY if method == "POST" else b""
    headers = sign("draft-cavage", key, method=method, body=body, signed_headers=signed_headers)
    resolver = Resolver(key.public_key())
    with pytest.raises(errors.HeadersNotSigned) as caught:
        await verify(headers, resolver, method=method, body=body)
    assert caught.value.missing == [missing]
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("method", "components", "missing"),
    [
        ("POST", ("@method", "@target-uri"), ["content-digest"]),
        ("POST", ("@target-uri", "content-digest"), ["@method"]),
        (
            "GET",
            ("@method", "@authority", "@path"),
            ["@target-uri (or @authority, @path and @query)"],
        ),
    ],
)
async def test_rfc9421_required_components(key, method, components, missing):
    """RFC 9421 must cover @method, the target URI, and on POST the Content-Digest."""
    body = BODY if method == "POST" else b""
    headers = sign("rfc9421", key, method=method, body=body, components=components)
    with pytest.raises(errors.HeadersNotSigned) as caught:
        await verify(headers, Resolver(key.public_key()), method=method, body=body)
    assert caught.value.missing == missing


async def test_rfc9421_authority_path_and_query_stand_for_the_target_uri(key):
    """@authority, @path and @query together are as good as @target-uri."""
    components = ("@method", "@authority", "@path", "@query", "content-digest")
    headers = sign("rfc9421", key, url=INBOX + "?x=1", components=components)
    assert await verify(headers, Resolver(key.public_key()), url=INBOX + "?x=1")


async def test_rfc9421_created_is_required(key):
    """An RFC 9421 signature without created is refused."""
    headers = sign("rfc9421", key)
    headers["Signature-Input"] = headers["Signature-Input"].replace(
        f";created={int(NOW.timestamp())}", ""
    )
    with pytest.raises(errors.HeadersNotSigned, match="created"):
        await verify(headers, Resolver(key.public_key()))


async def test_rfc9421_content_digest_is_checked(key):
    """A Content-Digest that does not match the body is refused even if signed consistently."""
    headers = sign("rfc9421", key, body=b"another body")
    with pytest.raises(errors.DigestMismatch):
        await verify(headers, Resolver(key.public_key()))


@pytest.mark.parametrize("algorithm", ["rsa-sha512", "hmac-sha256", "ecdsa-sha256"])
async def test_unknown_cavage_algorithm(key, algorithm):
    """Only rsa-sha256 and hs2019 are accepted in draft-cavage."""
    headers = sign("draft-cavage", key)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", algorithm)
    with pytest.raises(errors.UnsupportedAlgorithm) as caught:
        await verify(headers, Resolver(key.public_key()))
    assert caught.value.code == "unsupported_algorithm"


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "ecdsa-p256-sha256"])
async def test_unknown_rfc9421_algorithm(key, algorithm):
    """RFC 9421 accepts rsa-v1_5-sha256, rsa-pss-sha512 and ed25519 only."""
    headers = sign("rfc9421", key)
    headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", algorithm)
    with pytest.raises(errors.UnsupportedAlgorithm):
        await verify(headers, Resolver(key.public_key()))


async def test_hs2019_is_accepted_with_rsa(key):
    """hs2019 is verified as RSA-SHA256 with an RSA key, as Mastodon does."""
    headers = sign("draft-cavage", key)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "hs2019")
    assert await verify(headers, Resolver(key.public_key()))


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_ed25519_keys_sign_and_verify(scheme):
    """Ed25519 keys work in both schemes (hs2019 in cavage, ed25519 in RFC 9421)."""
    ed_key = Ed25519PrivateKey.generate()
    headers = sign(scheme, ed_key)
    assert ("hs2019" in headers["Signature"]) == (scheme == "draft-cavage")
    assert await verify(headers, Resolver(ed_key.public_key()))


async def test_rsa_sha256_claimed_with_an_ed25519_key_is_refused():
    """A cavage signature that says rsa-sha256 does not verify with an Ed25519 key."""
    ed_key = Ed25519PrivateKey.generate()
    headers = sign("draft-cavage", ed_key)
    headers["Signature"] = headers["Signature"].replace("hs2019", "rsa-sha256")
    with pytest.raises(errors.SignatureInvalid):
        await verify(headers, Resolver(ed_key.public_key()))


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        'algorithm="rsa-sha256",headers="date",signature="AAAA"',
        'keyId="k",headers="(request-target) host date digest",signature="!!not base64!!"',
        'keyId="k" algorithm="rsa-sha256"',
    ],
)
async def test_malformed_cavage_headers(key, value):
    """Unreadable Signature headers are refused as malformed."""
    with pytest.raises(errors.SignatureMalformed) as caught:
        await verify({"Signature": value, "Date": "x"}, Resolver(key.public_key()))
    assert caught.value.code == "signature_malformed"


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        ('sig1=("@method"', "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1', "sig2=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k"', "sig1=:not base64!:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k"', 'sig1="text"'),
        ("sig1=(@method);created=1", "sig1=:AAAA:"),
        ('sig1=("@method" "@target-uri");created=1;keyid="k",', "sig1=:AAAA:"),
    ],
)
async def test_malformed_rfc9421_headers(key, signature_input, signature):
    """Unreadable or mismatched Signature-Input and Signature are refused as malformed."""
    headers = {"Signature-Input": signature_input, "Signature": signature}
    with pytest.raises(errors.SignatureMalformed):
        await verify(headers, Resolver(key.public_key()), method="GET", body=b"")


async def test_signed_header_absent_from_the_request(key):
    """A header named in the signature but absent from the request is refused."""
    headers = sign("draft-cavage", key)
    del headers["Content-Type"]
    with pytest.raises(errors.SignatureMalformed, match="content-type"):
        await verify(headers, Resolver(key.public_key()))


async def test_authorization_signature_and_starlette_headers(key):
    """Authorization: Signature is accepted, from Starlette's raw header list."""
    headers = sign("draft-cavage", key)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    assert await verify(Headers(raw=raw), Resolver(key.public_key()))


async def test_explicit_path_is_used_for_the_request_target(key):
    """The path as received can be passed apart from the public target URI."""
    headers = sign("draft-cavage", key, url=INBOX + "?page=2")
    verified = await signatures.verify_request(
        method="POST",
        target_uri="https://local.example/elsewhere",
        path="/users/alice/inbox?page=2",
        headers=headers,
        body=BODY,
        resolve_key=Resolver(key.public_key()),
        now=NOW,
    )
    assert verified.scheme == "draft-cavage"


def test_key_owner_check():
    """check_key_owner passes for the key's owner and raises for anyone else."""
    verified = signatures.VerifiedSignature(KEY_ID, ACTOR, "draft-cavage")
    signatures.check_key_owner(verified, ACTOR)
    with pytest.raises(errors.KeyOwnerMismatch) as caught:
        signatures.check_key_owner(verified, "https://remote.example/users/eve")
    assert caught.value.code == "key_owner_mismatch"


def test_error_codes_are_distinct_and_errors_are_exceptions():
    """Every signature error is an ActivityPubError (an Exception) with its own code."""
    classes = [
        errors.SignatureMissing,
        errors.SignatureMalformed,
        errors.UnsupportedAlgorithm,
        errors.HeadersNotSigned,
        errors.DateOutOfWindow,
        errors.DigestMalformed,
        errors.DigestMismatch,
        errors.KeyUnavailable,
        errors.SignatureInvalid,
        errors.KeyOwnerMismatch,
        errors.InvalidKey,
    ]
    assert all(issubclass(cls, errors.ActivityPubError) for cls in classes)
    assert issubclass(errors.ActivityPubError, Exception)
    assert len({cls.code for cls in classes}) == len(classes)


# --- Properties ------------------------------------------------------------------------------

SEGMENT = st.text(string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:@", max_size=12)
QUERY = st.text(string.ascii_letters + string.digits + "-._~%=&+/", max_size=30)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(
    scheme=st.sampled_from(SCHEMES),
    method=st.sampled_from(["POST", "GET"]),
    segments=st.lists(SEGMENT, min_size=1, max_size=4),
    query=QUERY,
    body=st.binary(max_size=2048),
)
async def test_sign_then_verify_always_succeeds(key, scheme, method, segments, query, body):
    """Any path, query and body we sign verifies with the same key."""
    url = "https://local.example/" + "/".join(segments) + (f"?{query}" if query else "")
    body = body if method == "POST" else b""
    headers = sign(scheme, key, method=method, url=url, body=body)
    verified = await verify(headers, Resolver(key.public_key()), method=method, url=url, body=body)
    assert verified.scheme == scheme


@PROPERTY_SETTINGS
@given(scheme=st.sampled_from(SCHEMES), body=st.binary(max_size=512), extra=st.binary(min_size=1))
async def test_any_other_body_is_refused(key, scheme, body, extra):
    """Appending anything to a signed body makes the digest fail."""
    headers = sign(scheme, key, body=body)
    with pytest.raises(errors.DigestMismatch):
        await verify(headers, Resolver(key.public_key()), body=body + extra)
