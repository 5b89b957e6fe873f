"""Round trips with independent implementations: httpsig (draft-cavage, on PyCryptodome)
and http-message-signatures (RFC 9421), in both directions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpsig
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)

from activitypub import keys, signatures
from activitypub.cavage import render_http_date
from activitypub.digest import render_digest

ACTOR = "https://remote.example/users/bob"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://local.example/users/alice/inbox?page=1"
BODY = b'{"type": "Follow", "actor": "https://remote.example/users/bob"}'
CONTENT_TYPE = "application/activity+json"


@pytest.fixture(scope="module")
def rsa_pair() -> keys.KeyPair:
    return keys.generate_rsa_keypair()


@pytest.fixture(scope="module")
def rsa_key(rsa_pair) -> keys.PrivateKey:
    return keys.load_private_key(rsa_pair.private_key_pem)


def resolver_for(key: keys.PublicKey):
    async def resolve(key_id: str, *, refresh: bool) -> keys.PublicKeyInfo:
        assert key_id == KEY_ID
        return keys.PublicKeyInfo(ACTOR, key)

    return resolve


async def verify(headers, key, *, method="POST", body=BODY, url=INBOX):
    return await signatures.verify_request(
        method=method,
        target_uri=url,
        headers=headers,
        body=body,
        resolve_key=resolver_for(key),
    )


# --- draft-cavage against httpsig ----------------------------------------------------------


@pytest.mark.parametrize("sign_header", ["signature", "authorization"])
async def test_httpsig_signed_post_verifies_with_ours(rsa_pair, rsa_key, sign_header):
    """A POST signed by httpsig (Signature or Authorization header) passes our verifier."""
    signer = httpsig.HeaderSigner(
        KEY_ID,
        rsa_pair.private_key_pem,
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest", "content-type"],
        sign_header=sign_header,
    )
    headers = {
        "Host": "local.example",
        "Date": render_http_date(datetime.now(UTC)),
        "Digest": render_digest(BODY),
        "Content-Type": CONTENT_TYPE,
    }
    signed = signer.sign(headers, method="POST", path="/users/alice/inbox?page=1")
    verified = await verify(dict(signed), rsa_key.public_key())
    assert (verified.owner, verified.scheme) == (ACTOR, "draft-cavage")


async def test_httpsig_signed_get_verifies_with_ours(rsa_pair, rsa_key):
    """A GET signed by httpsig over (request-target) host date passes our verifier."""
    signer = httpsig.HeaderSigner(
        KEY_ID,
        rsa_pair.private_key_pem,
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date"],
        sign_header="signature",
    )
    headers = {"Host": "local.example", "Date": render_http_date(datetime.now(UTC))}
    signed = signer.sign(headers, method="GET", path="/users/alice/outbox")
    url = "https://local.example/users/alice/outbox"
    verified = await verify(dict(signed), rsa_key.public_key(), method="GET", body=b"", url=url)
    assert verified.key_id == KEY_ID


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        ("POST", BODY, ["(request-target)", "host", "date", "digest", "content-type"]),
        ("GET", None, ["(request-target)", "host", "date"]),
    ],
)
def test_our_signature_verifies_with_httpsig(rsa_pair, rsa_key, method, body, expected):
    """httpsig accepts what we send, over exactly Mastodon's header list."""
    given = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE} if body else {}
    added = signatures.sign_request(method, INBOX, given, body, key_id=KEY_ID, private_key=rsa_key)
    verifier = httpsig.HeaderVerifier(
        {**given, **added},
        rsa_pair.public_key_pem,
        required_headers=expected,
        method=method,
        path="/users/alice/inbox?page=1",
        sign_header="signature",
    )
    assert verifier.verify()
    assert f'headers="{" ".join(expected)}"' in added["Signature"]


# --- RFC 9421 against http-message-signatures ----------------------------------------------


@dataclass
class Message:
    """The request shape http-message-signatures reads: method, url and mutable headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def their_algorithm(key: keys.PrivateKey):
    return algorithms.ED25519 if isinstance(key, Ed25519PrivateKey) else algorithms.RSA_V1_5_SHA256


def their_resolver(key: keys.PrivateKey) -> MappingKeyResolver:
    return MappingKeyResolver(public_keys={KEY_ID: key.public_key()}, private_keys={KEY_ID: key})


@pytest.fixture(params=["rsa", "ed25519"])
def any_key(request, rsa_key) -> keys.PrivateKey:
    return rsa_key if request.param == "rsa" else Ed25519PrivateKey.generate()


async def test_http_message_signatures_post_verifies_with_ours(any_key):
    """An RFC 9421 POST signed by http-message-signatures passes our verifier."""
    message = Message("POST", INBOX, {"Content-Type": CONTENT_TYPE})
    HTTPMessageSigner(
        signature_algorithm=their_algorithm(any_key), key_resolver=their_resolver(any_key)
    ).sign(
        message,
        key_id=KEY_ID,
        created=datetime.now(UTC),
        label="sig1",
        covered_component_ids=("@method", "@target-uri", "content-type"),
        body=BODY,
    )
    verified = await verify(message.headers, any_key.public_key())
    assert (verified.key_id, verified.scheme) == (KEY_ID, "rfc9421")


async def test_http_message_signatures_get_verifies_with_ours(any_key):
    """An RFC 9421 GET signed by http-message-signatures passes our verifier."""
    message = Message("GET", INBOX)
    HTTPMessageSigner(
        signature_algorithm=their_algorithm(any_key), key_resolver=their_resolver(any_key)
    ).sign(
        message,
        key_id=KEY_ID,
        created=datetime.now(UTC),
        covered_component_ids=("@method", "@authority", "@path", "@query"),
    )
    verified = await verify(message.headers, any_key.public_key(), method="GET", body=b"")
    assert verified.scheme == "rfc9421"


@pytest.mark.parametrize(("method", "body"), [("POST", BODY), ("GET", None)])
def test_our_rfc9421_signature_verifies_with_http_message_signatures(any_key, method, body):
    """http-message-signatures accepts our RFC 9421 signatures and their digests."""
    given = {"Content-Type": CONTENT_TYPE} if body else {}
    added = signatures.sign_request_rfc9421(
        method, INBOX, given, body, key_id=KEY_ID, private_key=any_key
    )
    message = Message(method, INBOX, {**given, **added})
    [result] = HTTPMessageVerifier(
        signature_algorithm=their_algorithm(any_key), key_resolver=their_resolver(any_key)
    ).verify(
        message,
        body=body,
        require_components=("@method", "@target-uri"),
    )
    assert result.parameters["keyid"] == KEY_ID
    if body:
        assert "content-digest" in str(result.covered_components)
