"""Delivery: the signed POST against a real inbox, outcomes, and the retry policy."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from activitypub.addresses import AddressPolicy
from activitypub.delivery import (
    MAX_ATTEMPTS,
    Outcome,
    base_delay_seconds,
    classify,
    deliver,
    next_attempt,
    parse_retry_after,
    sign,
)
from activitypub.delivery_client import DeliveryClient
from activitypub.errors import FetchRefused
from tests.activitypub.signers import Received, Signer, new_signer, recording_app, verify
from tests.support.serve import bind_loopback, serve_app

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LOOPBACK = AddressPolicy(allow_http=True, allow_private_addresses=True)
BODY = orjson.dumps(
    {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://share.example/activities/1",
        "type": "Create",
        "actor": "https://share.example/actor",
    }
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer()


async def inbox(request: Request) -> Response:
    """/inbox/<status> answers that status; 429 and 503 say when to come back."""
    status = int(request.url.path.rsplit("/", 1)[1])
    headers = {"Retry-After": "120"} if status in (429, 503) else {}
    return Response("answer " * 50_000 if status == 202 else "", status, headers=headers)


@pytest.fixture
async def client():
    async with DeliveryClient(LOOPBACK) as delivery_client:
        yield delivery_client


@pytest.fixture
async def server():
    received: list[Received] = []
    async with serve_app(recording_app(inbox, received)) as base_url:
        yield base_url, received


def signed(signer, url):
    return sign(url, BODY, key_id=signer.key_id, private_key=signer.private_key)


async def post(client, signer, url):
    return await deliver(client, url, BODY, signed(signer, url), timeout_seconds=5)


async def test_delivered_post_is_signed_and_verifies(server, client, signer):
    """A 202 is delivered; the POST carries the body, its digest and a verifying signature."""
    base_url, received = server
    result = await post(client, signer, f"{base_url}/inbox/202")
    assert (result.outcome, result.status, result.error) == (Outcome.DELIVERED, 202, None)
    request = received[0]
    assert request.body == BODY
    assert request.headers["content-type"] == "application/activity+json"
    assert (
        'headers="(request-target) host date digest content-type"' in request.headers["signature"]
    )
    assert request.headers["digest"].startswith("SHA-256=")
    verified = await verify(request, signer)
    assert verified.owner == signer.owner


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, Outcome.RETRY),
        (503, Outcome.RETRY),
        (429, Outcome.RETRY),
        (401, Outcome.RETRY),
        (400, Outcome.FAILED),
        (404, Outcome.FAILED),
        (501, Outcome.FAILED),
        (410, Outcome.GONE),
        (302, Outcome.RETRY),
    ],
)
async def test_inbox_answers_are_classified(server, client, signer, status, outcome):
    """Each status a real inbox returns becomes the right outcome."""
    base_url, _ = server
    result = await post(client, signer, f"{base_url}/inbox/{status}")
    assert (result.outcome, result.status) == (outcome, status)
    assert result.error == f"the inbox answered {status}"


async def test_retry_after_is_read_from_the_answer(server, client, signer):
    """A 429 with Retry-After: 120 comes back with the moment to retry."""
    base_url, _ = server
    before = datetime.now(UTC)
    result = await post(client, signer, f"{base_url}/inbox/429")
    assert result.retry_after is not None
    assert before + timedelta(seconds=119) <= result.retry_after
    assert result.retry_after <= datetime.now(UTC) + timedelta(seconds=121)


async def test_a_closed_port_is_a_retry_not_an_exception(client, signer):
    """Network errors become a retryable result with a safe message."""
    sock = bind_loopback()
    port = sock.getsockname()[1]
    sock.close()
    result = await post(client, signer, f"http://127.0.0.1:{port}/inbox")
    assert (result.outcome, result.status) == (Outcome.RETRY, None)
    assert result.error == "network error: ConnectionRefusedError"


async def test_a_slow_inbox_times_out_as_a_retry(client, signer):
    """An inbox that does not answer within the timeout is retried later."""
    release = asyncio.Event()

    async def slow(request: Request) -> Response:
        await release.wait()
        return Response(status_code=202)

    received: list[Received] = []
    async with serve_app(recording_app(slow, received)) as base_url:
        url = f"{base_url}/inbox"
        result = await deliver(client, url, BODY, signed(signer, url), timeout_seconds=0.2)
        release.set()
    assert (result.outcome, result.error) == (Outcome.RETRY, "timed out")


async def test_a_refused_inbox_fails_for_good_without_a_request(server, signer):
    """With the production policy a loopback inbox is a permanent failure; nothing is sent."""
    base_url, received = server
    async with DeliveryClient(AddressPolicy()) as strict:
        result = await post(strict, signer, f"{base_url}/inbox/202")
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and "only https" in result.error
    assert received == []


def test_classify_statuses_and_exceptions():
    """Mastodon's rules: 4xx except 401/408/429 and 501 are permanent; 410 is gone."""
    assert classify(200) is classify(204) is Outcome.DELIVERED
    assert {classify(s) for s in (401, 408, 429, 500, 502, 503, 504, 301)} == {Outcome.RETRY}
    assert {classify(s) for s in (400, 403, 404, 405, 413, 422, 501)} == {Outcome.FAILED}
    assert classify(410) is Outcome.GONE
    assert classify(httpx.ConnectError("refused")) is Outcome.RETRY
    assert classify(TimeoutError()) is Outcome.RETRY
    assert classify(FetchRefused("private address")) is Outcome.FAILED


def test_parse_retry_after_seconds_dates_and_garbage():
    """Delta-seconds and HTTP dates are read; anything else is ignored."""
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Sun, 22 Nov 2026 13:00:00 GMT", NOW) == NOW + timedelta(hours=1)
    assert parse_retry_after("9" * 40, NOW) == NOW + timedelta(days=366)
    for value in (None, "", "soon", "-5", "1.5", "Sun, 99 Nov 2026"):
        assert parse_retry_after(value, NOW) is None


def test_retry_policy_grows_and_totals_about_two_days():
    """Base waits grow with every attempt, the longest is under a day, the sum ~2 days."""
    waits = [base_delay_seconds(n) for n in range(1, MAX_ATTEMPTS)]
    assert waits[0] == 15
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    assert max(waits) < 86400
    assert timedelta(days=1.9) < timedelta(seconds=sum(waits)) < timedelta(days=2.2)


def test_retry_policy_gives_up_after_the_last_attempt():
    """After MAX_ATTEMPTS failed attempts there is no next attempt."""
    rng = random.Random(1)
    assert next_attempt(MAX_ATTEMPTS - 1, NOW, rng=rng) is not None
    assert next_attempt(MAX_ATTEMPTS, NOW, rng=rng) is None
    with pytest.raises(ValueError):
        next_attempt(0, NOW, rng=rng)


def test_whole_schedule_with_jitter_stays_between_1_5_and_2_6_days():
    """Jittered schedules, end to end, take about two days whatever the random draws."""
    for seed in range(20):
        rng, at, attempts = random.Random(seed), NOW, 1
        while (later := next_attempt(attempts, at, rng=rng)) is not None:
            at, attempts = later, attempts + 1
        assert attempts == MAX_ATTEMPTS
        assert timedelta(days=1.5) < at - NOW < timedelta(days=2.6)


@given(attempt=st.integers(1, MAX_ATTEMPTS - 1), seed=st.integers(0, 2**32))
def test_jitter_stays_within_a_quarter_of_the_base(attempt, seed):
    """Every wait lies within ±25 % of the base wait for its attempt."""
    wait = next_attempt(attempt, NOW, rng=random.Random(seed)) - NOW
    base = base_delay_seconds(attempt)
    assert 0.75 * base <= wait.total_seconds() <= 1.25 * base


def test_retry_after_postpones_but_is_capped_and_never_hastens():
    """Retry-After pushes the next attempt out (at most a day) and never brings it in."""
    rng = random.Random(3)
    later = next_attempt(1, NOW, retry_after=NOW + timedelta(hours=2), rng=rng)
    assert later == NOW + timedelta(hours=2)
    capped = next_attempt(1, NOW, retry_after=NOW + timedelta(days=30), rng=rng)
    assert capped == NOW + timedelta(days=1)
    sooner = next_attempt(10, NOW, retry_after=NOW + timedelta(seconds=1), rng=random.Random(3))
    assert sooner == next_attempt(10, NOW, rng=random.Random(3))
