"""Talking to a peer community's instance actor: signed requests that want an answer.

Clearing requests (quotes, prepares, statements) are answered in the HTTP response,
so a payment settles in one round trip per hop instead of waiting for two deliveries
through the queue. The request is signed by our instance actor and verified by the
peer like any inbox POST; the answer comes back on the connection we opened to the
inbox the peer publishes (TLS in production), and a fulfilment proves itself
(its SHA-256 is the condition). What cannot be sent now is sent again by
`fediverse_share.clearing.recovery`, and every request is idempotent.

Requests go through the runtime's keep-alive delivery client
(`activitypub.delivery_client`, with the same address policy as every other request):
a settlement's CPU went mostly to httpx when they went through it (bench/clearing.py).
Our instance actor's key signs them (`federation.fetching.instance_signing_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from activitypub.errors import ActivityPubError
from activitypub.signatures import sign_request
from activitypub.vocabulary import ACTIVITY_JSON
from exchange.peers import Link
from fediverse_share.clearing import wire
from fediverse_share.federation.fetching import instance_signing_key
from fediverse_share.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Answer:
    """What a peer answered: ``status`` 200 with an Accept, TentativeAccept or Reject,
    202 while it does not know yet; ``status`` 0 when it could not be reached."""

    status: int
    document: dict[str, Any]
    error: str = ""

    @property
    def kind(self) -> str:
        return wire.kind_of(self.document) if self.status == 200 else ""

    @property
    def result(self) -> dict[str, Any]:
        result = self.document.get("result")
        return result if isinstance(result, dict) else {}


def message_id(runtime: Runtime) -> str:
    return f"{runtime.instance.base_url}/clearing/messages/{runtime.ids.next_id()}"


def instance_actor(runtime: Runtime) -> str:
    return runtime.instance.instance_actor_uri


async def ask_peer(
    runtime: Runtime,
    link: Link,
    kind: str,
    obj: dict[str, Any],
    timeout_seconds: float | None = None,
) -> Answer:
    """Send ``kind(obj)`` from our instance actor to the peer's, and read its answer."""
    doc = wire.activity(kind, message_id(runtime), instance_actor(runtime), link.actor_uri, obj)
    timeout = runtime.settings.http_timeout_seconds if timeout_seconds is None else timeout_seconds
    return await ask(runtime, link.inbox_url, doc, timeout)


async def ask(
    runtime: Runtime, inbox_url: str, document: dict[str, Any], timeout_seconds: float
) -> Answer:
    """POST ``document`` signed by our instance actor; never raises for the network.

    An answer that is not a JSON object with a status below 500 is no answer."""
    key = await instance_signing_key(runtime)
    body = orjson.dumps(document)
    headers = {"Content-Type": ACTIVITY_JSON, "Accept": "application/json"}
    try:
        headers.update(
            sign_request(
                "POST", inbox_url, headers, body, key_id=key.key_id, private_key=key.private_key
            )
        )
        answer = await runtime.delivery_client.post(
            inbox_url,
            body,
            headers,
            timeout_seconds=max(0.5, timeout_seconds),
            max_body_bytes=runtime.settings.max_body_bytes,
        )
    except ActivityPubError as error:
        return Answer(0, {}, error.message)
    except TimeoutError:
        return Answer(0, {}, f"posting to {inbox_url} timed out")
    except OSError as error:
        return Answer(0, {}, f"could not post to {inbox_url}: {type(error).__name__}")
    try:
        answered = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        answered = None
    if not isinstance(answered, dict) or not 200 <= answer.status < 500:
        return Answer(0, {}, f"{inbox_url} answered {answer.status}")
    return Answer(answer.status, answered)
