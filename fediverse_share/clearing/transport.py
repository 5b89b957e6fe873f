"""Talking to a peer community's instance actor: signed requests that want an answer.

Clearing requests (quotes, prepares, statements) are answered in the HTTP response,
so a payment settles in one round trip per hop instead of waiting for two deliveries
through the queue. The request is signed by our instance actor and verified by the
peer like any inbox POST; the answer comes back on the connection we opened to the
inbox the peer publishes (TLS in production), and a fulfilment proves itself
(its SHA-256 is the condition). What cannot be sent now is sent again by
`fediverse_share.clearing.recovery`, and every request is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from activitypub.errors import ActivityPubError
from exchange.peers import Link
from fediverse_share.clearing import wire
from fediverse_share.federation.fetching import fetcher_for
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
    """POST ``document`` signed by our instance actor; never raises for the network."""
    fetcher = await fetcher_for(runtime)
    try:
        status, answer = await fetcher.post_json(
            inbox_url, orjson.dumps(document), timeout_seconds=max(0.5, timeout_seconds)
        )
    except ActivityPubError as error:
        return Answer(0, {}, error.message)
    return Answer(status, answer)
