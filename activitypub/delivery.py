"""Delivering an activity to an inbox: one signed POST, its outcome, and when to retry.

The persistent queue lives in the application; this module gives it three pure
pieces and one network call:

- `classify` turns a status or an exception into an `Outcome`, as Mastodon's
  ``DeliveryWorker`` does: 2xx delivered; 410 gone; other 4xx except 401, 408 and 429,
  and 501, are permanent failures; everything else (3xx, 5xx, 401/408/429, network
  errors, timeouts) is retried. A URL the address policy refuses fails for good.
- `next_attempt` is the retry policy. We keep Mastodon's curve (Sidekiq ``retry: 16``,
  ``count⁴ + 15`` seconds): after the n-th failed attempt the next one waits
  ``(n-1)⁴ + 15`` s, jittered by ±25 % so that a recovering server is not hit by a
  synchronised wave. 17 attempts in all; the waits add up to 178,552 s, about 2.07
  days, before jitter (between 1.55 and 2.58 days with it); the longest single wait is
  about 14 h. A ``Retry-After`` (capped at one day) postpones the next attempt, never
  brings it forward, and does not cost an attempt of its own.
- `parse_retry_after` reads ``Retry-After`` as seconds or as an HTTP date.
- `sign` signs a delivery (draft-cavage: ``(request-target) host date digest
  content-type``), and `deliver` POSTs it as ``application/activity+json`` through a
  `DeliveryClient` (the address policy checked before anything is sent, redirects not
  followed, at most `MAX_RESPONSE_BYTES` of the answer read) within one deadline; it
  never raises for network trouble, which comes back as a retryable `DeliveryResult`.
"""

from __future__ import annotations

import email.utils
import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from activitypub.delivery_client import DeliveryClient
from activitypub.errors import ActivityPubError, FetchRefused
from activitypub.keys import PrivateKey
from activitypub.signatures import sign_request
from activitypub.vocabulary import ACTIVITY_JSON

#: The first attempt and 16 retries, as Mastodon.
MAX_ATTEMPTS = 17
JITTER = 0.25
MAX_RETRY_AFTER = timedelta(days=1)
#: Enough of an inbox's answer to keep the connection reusable; the rest is not read.
MAX_RESPONSE_BYTES = 64 * 1024
RETRIED_CLIENT_ERRORS = frozenset({401, 408, 429})


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"  # permanent: do not try this job again
    GONE = "gone"  # 410: the inbox's actor was deleted


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Outcome
    status: int | None = None
    retry_after: datetime | None = None
    error: str | None = None


def base_delay_seconds(attempt_count: int) -> int:
    """The wait after ``attempt_count`` failed attempts, before jitter."""
    return (attempt_count - 1) ** 4 + 15


def next_attempt(
    attempt_count: int,
    now: datetime,
    *,
    retry_after: datetime | None = None,
    rng: random.Random,
) -> datetime | None:
    """When to try again after ``attempt_count`` failed attempts, or ``None`` to give up."""
    if attempt_count < 1:
        raise ValueError("attempt_count counts failed attempts, starting at 1")
    if attempt_count >= MAX_ATTEMPTS:
        return None
    delay = base_delay_seconds(attempt_count) * (1 + rng.uniform(-JITTER, JITTER))
    when = now + timedelta(seconds=delay)
    if retry_after is not None:
        when = max(when, min(retry_after, now + MAX_RETRY_AFTER))
    return when


def classify(result: int | BaseException) -> Outcome:
    """The outcome of an answer with status ``result``, or of a request that raised it."""
    if isinstance(result, BaseException):
        permanent = isinstance(result, FetchRefused | httpx.InvalidURL)
        return Outcome.FAILED if permanent else Outcome.RETRY
    if 200 <= result < 300:
        return Outcome.DELIVERED
    if result == 410:
        return Outcome.GONE
    if result == 501 or (400 <= result < 500 and result not in RETRIED_CLIENT_ERRORS):
        return Outcome.FAILED
    return Outcome.RETRY


def parse_retry_after(header: str | None, now: datetime) -> datetime | None:
    """The moment a ``Retry-After`` value names (delta-seconds or HTTP date), if valid."""
    value = (header or "").strip()
    if not value:
        return None
    if value.isdigit():
        return now + timedelta(seconds=min(int(value), 366 * 86400))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _failure(error: BaseException) -> DeliveryResult:
    if isinstance(error, ActivityPubError):
        message = error.message
    elif isinstance(error, TimeoutError):
        message = "timed out"
    else:
        message = f"network error: {type(error).__name__}"
    return DeliveryResult(classify(error), error=message)


def sign(inbox_url: str, body: bytes, *, key_id: str, private_key: PrivateKey) -> dict[str, str]:
    """The headers of a delivery of ``body`` to ``inbox_url``: ``Content-Type`` and the
    signature's (draft-cavage: ``(request-target) host date digest content-type``).

    Apart from `deliver` so that a worker can sign several deliveries in a row: signing
    between sends, with the network's code and data in the caches, cost ~15 % more CPU.
    """
    headers = {"Content-Type": ACTIVITY_JSON}
    headers.update(
        sign_request("POST", inbox_url, headers, body, key_id=key_id, private_key=private_key)
    )
    return headers


async def deliver(
    client: DeliveryClient,
    inbox_url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_seconds: float,
) -> DeliveryResult:
    """POST ``body`` to ``inbox_url`` with ``headers`` from `sign`; network errors are results.

    The client checks the URL against its address policy before sending anything,
    and every address it connects to; ``timeout_seconds`` covers all the network
    part (looking the host up, connecting, sending, reading the answer).
    """
    try:
        answer = await client.post(
            inbox_url,
            body,
            headers,
            timeout_seconds=timeout_seconds,
            max_body_bytes=MAX_RESPONSE_BYTES,
        )
    except (ActivityPubError, TimeoutError, OSError) as error:
        return _failure(error)
    status = answer.status
    outcome = classify(status)
    message = None if outcome is Outcome.DELIVERED else f"the inbox answered {status}"
    retry_after = parse_retry_after(answer.headers.get("retry-after"), datetime.now(UTC))
    return DeliveryResult(outcome, status, retry_after, message)
