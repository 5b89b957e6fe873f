"""HTTP signatures: how fast we sign and verify, and what loading a key costs.

Prints figures, asserts nothing. The verify figures are full checks as an inbox runs
them: Starlette headers, rules, digest, time window, a key from a `PublicKeyCache`
through an async resolver, and the cryptographic check.

    .venv/bin/python bench/signatures.py
"""

from __future__ import annotations

import asyncio
import json
import platform
import time
from collections.abc import Awaitable, Callable
from functools import partial
from importlib.metadata import version

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.datastructures import Headers

from activitypub import keys, signatures

ACTOR = "https://remote.example/users/bob"
KEY_ID = f"{ACTOR}#main-key"
INBOX = "https://local.example/inbox"
BODY = json.dumps(
    {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ACTOR}/statuses/1/activity",
        "type": "Create",
        "actor": ACTOR,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{ACTOR}/statuses/1",
            "type": "Note",
            "content": "<p>" + "A bicycle to lend for the weekend. " * 20 + "</p>",
        },
    }
).encode()
# Many short rounds, best kept: on a shared machine a long round is rarely left alone.
ROUNDS = 15


def best_rate(run: Callable[[int], float], count: int) -> float:
    """Operations per second, best of ROUNDS runs of ``count`` operations."""
    return max(count / run(count) for _ in range(ROUNDS))


def timed(operation: Callable[[], object]) -> Callable[[int], float]:
    def run(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            operation()
        return time.perf_counter() - start

    return run


def timed_async(operation: Callable[[], Awaitable[object]]) -> Callable[[int], float]:
    async def loop(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            await operation()
        return time.perf_counter() - start

    return lambda count: asyncio.run(loop(count))


def inbox_headers(added: dict[str, str]) -> Headers:
    """The headers an inbox sees: ours plus what a client and a proxy add."""
    sent = {
        "Content-Type": "application/activity+json",
        "User-Agent": "Mastodon/4.5.0 (http.rb/5.2.0; +https://remote.example/)",
        "Accept-Encoding": "gzip",
        "Content-Length": str(len(BODY)),
        "X-Forwarded-For": "203.0.113.7",
        **added,
    }
    return Headers(raw=[(k.lower().encode(), v.encode()) for k, v in sent.items()])


def verifier(headers: Headers, key: keys.PrivateKey) -> Callable[[], Awaitable[object]]:
    cache = keys.PublicKeyCache()
    cache.put(KEY_ID, keys.PublicKeyInfo(ACTOR, key.public_key()))

    async def resolve(key_id: str, *, refresh: bool) -> keys.PublicKeyInfo:
        info = cache.get(key_id)
        assert info is not None
        return info

    def verify() -> Awaitable[object]:
        return signatures.verify_request(
            method="POST", target_uri=INBOX, headers=headers, body=BODY, resolve_key=resolve
        )

    return verify


def report(label: str, rate: float) -> None:
    print(f"  {label:<52} {rate:>10,.0f}/s  {1e6 / rate:>8.1f} µs")


def main() -> None:
    print(
        f"HTTP signatures: Python {platform.python_version()}, "
        f"cryptography {version('cryptography')}, body {len(BODY)} bytes, best of {ROUNDS}"
    )
    pem = keys.generate_rsa_keypair().private_key_pem
    for skip in (False, True):
        seconds = min(
            timed(partial(keys.load_private_key, pem, unsafe_skip_rsa_key_validation=skip))(10)
            for _ in range(ROUNDS)
        )
        label = "validation skipped" if skip else "validated"
        print(f"  {'RSA-2048 private key load, ' + label:<52} {seconds / 10 * 1e3:>10.2f} ms")

    rsa_key = keys.load_private_key(pem)
    ed_key = Ed25519PrivateKey.generate()
    data = b"x" * 200
    rsa_signature = keys.sign_bytes(rsa_key, keys.RSA_V1_5_SHA256, data)
    ed_signature = keys.sign_bytes(ed_key, keys.ED25519, data)
    rsa_public, ed_public = rsa_key.public_key(), ed_key.public_key()

    print("primitives")
    report(
        "RSA-2048 sign",
        best_rate(timed(lambda: keys.sign_bytes(rsa_key, keys.RSA_V1_5_SHA256, data)), 300),
    )
    report(
        "RSA-2048 verify",
        best_rate(
            timed(lambda: keys.verify_bytes(rsa_public, keys.RSA_V1_5_SHA256, rsa_signature, data)),
            1000,
        ),
    )
    report(
        "Ed25519 verify",
        best_rate(
            timed(lambda: keys.verify_bytes(ed_public, keys.ED25519, ed_signature, data)), 3000
        ),
    )

    print("requests")
    report(
        "sign, draft-cavage RSA (POST)",
        best_rate(
            timed(
                lambda: signatures.sign_request(
                    "POST", INBOX, {}, BODY, key_id=KEY_ID, private_key=rsa_key
                )
            ),
            300,
        ),
    )
    report(
        "sign, RFC 9421 RSA (POST)",
        best_rate(
            timed(
                lambda: signatures.sign_request_rfc9421(
                    "POST", INBOX, {}, BODY, key_id=KEY_ID, private_key=rsa_key
                )
            ),
            300,
        ),
    )
    cases = [
        ("verify, draft-cavage RSA (POST, full check)", signatures.sign_request, rsa_key, 2000),
        (
            "verify, RFC 9421 RSA (POST, full check)",
            signatures.sign_request_rfc9421,
            rsa_key,
            2000,
        ),
        (
            "verify, RFC 9421 Ed25519 (POST, full check)",
            signatures.sign_request_rfc9421,
            ed_key,
            1000,
        ),
    ]
    for label, sign, key, count in cases:
        added = sign(
            "POST",
            INBOX,
            {"Content-Type": "application/activity+json"},
            BODY,
            key_id=KEY_ID,
            private_key=key,
        )
        report(label, best_rate(timed_async(verifier(inbox_headers(added), key)), count))


if __name__ == "__main__":
    main()
