"""Real keys and a recording server for the fetch, WebFinger and delivery tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub import signatures
from activitypub.keys import (
    PrivateKey,
    PublicKeyInfo,
    generate_rsa_keypair,
    load_private_key,
    parse_public_key_pem,
)

INSTANCE_ACTOR = "https://share.example/actor"


@dataclass(frozen=True)
class Signer:
    """An actor's key pair: what a Fetcher or deliver() signs with."""

    owner: str
    key_id: str
    private_key: PrivateKey = field(repr=False)
    public_key_pem: str

    async def resolve(self, key_id: str, *, refresh: bool) -> PublicKeyInfo:
        assert key_id == self.key_id
        return PublicKeyInfo(owner=self.owner, key=parse_public_key_pem(self.public_key_pem))


def new_signer(owner: str = INSTANCE_ACTOR) -> Signer:
    pair = generate_rsa_keypair()
    private_key = load_private_key(pair.private_key_pem, unsafe_skip_rsa_key_validation=True)
    return Signer(owner, f"{owner}#main-key", private_key, pair.public_key_pem)


@dataclass(frozen=True)
class Received:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Request], Awaitable[Response]]


def recording_app(handler: Handler, received: list[Received]) -> Starlette:
    """An app that records every request it gets, then answers with ``handler``."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        received.append(Received(request.method, str(request.url), dict(request.headers), body))
        return await handler(request)

    methods = ["GET", "POST"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


async def verify(received: Received, signer: Signer, *, target_uri: str | None = None):
    """Check a recorded request's signature with helper-1's verifier."""
    return await signatures.verify_request(
        method=received.method,
        target_uri=target_uri or received.url,
        headers=received.headers,
        body=received.body,
        resolve_key=signer.resolve,
    )
