"""The delivery client against real servers on loopback: framing, reuse, policy, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from activitypub.addresses import AddressPolicy
from activitypub.delivery_client import DeliveryClient
from activitypub.errors import ConnectionClosed, FetchFailed, FetchRefused
from activitypub.http1 import Answer
from tests.support.certificates import issue
from tests.support.serve import serve_app

LOOPBACK = AddressPolicy(allow_http=True, allow_private_addresses=True)
CAP = 64 * 1024
BIG = b"x" * (CAP + 1)


def inbox_app(seen: list[tuple[str, int]]) -> Starlette:
    """Records (path, client port) of every request; answers per path."""

    async def endpoint(request: Request) -> Response:
        assert request.client is not None
        await request.body()
        seen.append((request.url.path, request.client.port))
        path = request.url.path
        if path == "/redirect":
            return RedirectResponse("/elsewhere", status_code=302)
        if path == "/chunked":
            return StreamingResponse(iter([b"one,", b"two,", b"three"]), status_code=202)
        if path == "/big":
            return Response(BIG, status_code=202)
        if path == "/big-chunked":
            return StreamingResponse(iter([BIG[:CAP], BIG[CAP:]]), status_code=202)
        return Response(b"ok", status_code=202)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])


@pytest.fixture
async def inbox():
    seen: list[tuple[str, int]] = []
    async with serve_app(inbox_app(seen)) as base_url:
        yield base_url, seen


@pytest.fixture
async def client():
    async with DeliveryClient(LOOPBACK) as delivery_client:
        yield delivery_client


async def post(client: DeliveryClient, url: str, timeout_seconds: float = 5) -> Answer:
    headers = {"Content-Type": "application/activity+json"}
    return await client.post(
        url, b'{"type": "Create"}', headers, timeout_seconds=timeout_seconds, max_body_bytes=CAP
    )


def ports(seen: list[tuple[str, int]]) -> set[int]:
    return {port for _, port in seen}


async def test_requests_reuse_a_kept_alive_connection(inbox, client):
    """Requests one after another to one server go over one connection."""
    base_url, seen = inbox
    answers = [await post(client, f"{base_url}/users/{n}/inbox") for n in range(5)]
    assert [(a.status, a.body, a.reusable) for a in answers] == [(202, b"ok", True)] * 5
    assert len(seen) == 5 and len(ports(seen)) == 1


async def test_at_most_four_connections_per_host_at_once(inbox, client):
    """Twenty concurrent requests to one server share at most four connections."""
    base_url, seen = inbox
    answers = await asyncio.gather(*(post(client, f"{base_url}/inbox") for _ in range(20)))
    assert {a.status for a in answers} == {202}
    assert len(seen) == 20 and len(ports(seen)) <= 4


async def test_a_chunked_answer_is_decoded_and_its_connection_reused(inbox, client):
    """A chunked body is read whole, and the connection carries the next request."""
    base_url, seen = inbox
    answer = await post(client, f"{base_url}/chunked")
    assert answer.headers["transfer-encoding"] == "chunked"
    assert (answer.status, answer.body, answer.reusable) == (202, b"one,two,three", True)
    await post(client, f"{base_url}/inbox")
    assert len(ports(seen)) == 1


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_an_answer_over_the_cap_is_not_read_and_its_connection_closed(inbox, client, path):
    """Past max_body_bytes the rest is left unread and the connection is not reused."""
    base_url, seen = inbox
    answer = await post(client, f"{base_url}{path}")
    assert answer.status == 202 and len(answer.body) <= CAP and not answer.reusable
    await post(client, f"{base_url}/inbox")
    assert len(ports(seen)) == 2


async def test_a_redirect_is_an_answer_and_is_not_followed(inbox, client):
    """A 302 comes back as it is; its Location is never requested."""
    base_url, seen = inbox
    answer = await post(client, f"{base_url}/redirect")
    assert (answer.status, answer.headers["location"]) == (302, "/elsewhere")
    assert [path for path, _ in seen] == ["/redirect"]


async def test_the_policy_refuses_a_private_address_before_sending(inbox):
    """With private addresses not allowed, a loopback inbox gets no byte."""
    base_url, seen = inbox
    async with DeliveryClient(AddressPolicy(allow_http=True)) as strict:
        with pytest.raises(FetchRefused, match="non-public"):
            await post(strict, f"{base_url}/inbox")
    assert seen == []


@pytest.mark.parametrize("host", ["127.1", "2130706433"])
async def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(inbox, host):
    """Hosts that pass as names but resolve to 127.0.0.1 are refused at connect time."""
    base_url, seen = inbox
    url = f"{base_url.replace('127.0.0.1', host)}/inbox"
    async with DeliveryClient(AddressPolicy(allow_http=True)) as strict:
        with pytest.raises(FetchRefused, match="resolves to a non-public address"):
            await post(strict, url)
    assert seen == []
    async with DeliveryClient(LOOPBACK) as permissive:
        assert (await post(permissive, url)).status == 202


async def test_https_verifies_the_certificate_and_the_host_name(tmp_path):
    """TLS works with a trusted certificate; an unknown CA or a wrong name is refused."""
    good = issue(tmp_path, ["localhost", "127.0.0.1"])
    (tmp_path / "other").mkdir()
    wrong_name = issue(tmp_path / "other", ["other.example"])
    seen: list[tuple[str, int]] = []
    for issued, context, expected in [
        (good, good.client_context(), 202),
        (good, None, ssl.SSLCertVerificationError),
        (wrong_name, wrong_name.client_context(), ssl.SSLCertVerificationError),
    ]:
        files = {"ssl_keyfile": str(issued.keyfile), "ssl_certfile": str(issued.certfile)}
        async with serve_app(inbox_app(seen), **files) as base_url:
            url = base_url.replace("http://", "https://") + "/inbox"
            async with DeliveryClient(LOOPBACK, ssl_context=context) as tls:
                if expected == 202:
                    assert (await post(tls, url)).status == 202
                    assert (await post(tls, url.replace("127.0.0.1", "localhost"))).status == 202
                else:
                    with pytest.raises(expected):
                        await post(tls, url)
    assert len(seen) == 2


async def test_idle_connections_expire_and_the_least_recently_used_is_closed(inbox):
    """An idle connection past its expiry is not reused; nor one pushed out by others."""
    base_url, seen = inbox
    async with DeliveryClient(LOOPBACK, keepalive_expiry_seconds=0) as expiring:
        await post(expiring, f"{base_url}/inbox")
        await post(expiring, f"{base_url}/inbox")
    assert len(ports(seen)) == 2
    other_seen: list[tuple[str, int]] = []
    async with serve_app(inbox_app(other_seen)) as other_url:
        seen.clear()
        async with DeliveryClient(LOOPBACK, max_idle_connections=1) as one_idle:
            for url in (base_url, other_url, other_url, base_url):
                await post(one_idle, f"{url}/inbox")
    # The other server's connection pushed the first one out, then was reused.
    assert (len(ports(seen)), len(ports(other_seen))) == (2, 1)


async def test_a_target_or_a_header_that_could_smuggle_is_refused(client):
    """Spaces, control characters or non-ASCII never reach the wire."""
    with pytest.raises(FetchRefused):
        await post(client, "http://127.0.0.1:9/in box")
    with pytest.raises(FetchRefused):
        await client.post(
            "http://127.0.0.1:9/inbox",
            b"",
            {"X-Evil": "a\r\nX-Injected: 1"},
            timeout_seconds=1,
            max_body_bytes=CAP,
        )


# --- raw servers, for answers uvicorn would not give -----------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request's head (its body read and dropped), or None at the end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    await reader.readexactly(length)
    return head


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """Serves ``handler(reader, writer, connection_number)``; yields the URL and a list
    of the requests counted on each connection (one entry per connection)."""
    counts: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.append(0)
        try:
            await handler(reader, writer, len(counts) - 1)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/inbox", counts


async def test_an_answer_without_length_runs_until_the_server_closes(client):
    """No Content-Length nor chunked: the body ends with the connection, not reused."""

    async def handler(reader, writer, number):
        await read_request(reader)
        writer.write(b"HTTP/1.1 202 Accepted\r\nRetry-After: 5\r\n\r\nall of it")

    async with raw_server(handler) as (url, _):
        answer = await post(client, url)
    assert (answer.status, answer.body, answer.reusable) == (202, b"all of it", False)
    assert answer.headers["retry-after"] == "5"


async def test_interim_answers_are_skipped(client):
    """A 100 Continue before the answer is read past."""

    async def handler(reader, writer, number):
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        )

    async with raw_server(handler) as (url, _):
        assert (await post(client, url)).status == 201


@pytest.mark.parametrize(
    "answer",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\n folded: header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
    ],
)
async def test_a_malformed_or_broken_answer_is_a_fetch_failure(client, answer):
    """What is not HTTP/1.1, or stops in the middle, raises FetchFailed."""

    async def handler(reader, writer, number):
        await read_request(reader)
        writer.write(answer)
        writer.write_eof()

    async with raw_server(handler) as (url, _):
        with pytest.raises(FetchFailed):
            await post(client, url)


async def test_a_kept_alive_connection_the_server_dropped_is_retried_once(client):
    """A reused connection closed without an answer: the request goes once more, anew."""

    async def handler(reader, writer, number):
        served = 0
        while await read_request(reader) is not None:
            if number == 0 and served == 1:
                return  # the first connection drops its second request unanswered
            served += 1
            answered.append(number)
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")

    answered: list[int] = []
    async with raw_server(handler) as (url, counts):
        assert (await post(client, url)).status == 202
        assert (await post(client, url)).status == 202
    assert answered == [0, 1] and len(counts) == 2


async def test_a_new_connection_closed_without_an_answer_is_not_retried(client):
    """On a fresh connection, the server hanging up is a ConnectionClosed failure."""

    async def handler(reader, writer, number):
        await read_request(reader)

    async with raw_server(handler) as (url, counts):
        with pytest.raises(ConnectionClosed):
            await post(client, url)
    assert len(counts) == 1


async def test_a_timed_out_request_closes_its_connection(client):
    """After a timeout the connection is not reused: the next request opens another."""
    release = asyncio.Event()

    async def handler(reader, writer, number):
        await read_request(reader)
        if number == 0:
            await release.wait()
        writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")

    async with raw_server(handler) as (url, counts):
        with pytest.raises(TimeoutError):
            await post(client, url, timeout_seconds=0.2)
        assert (await post(client, url)).status == 202
        release.set()
    assert len(counts) == 2


async def test_a_connection_the_server_wrote_to_unasked_is_not_reused(client):
    """Bytes after the answer would be taken for the next answer: a new connection."""

    async def handler(reader, writer, number):
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nextra")

    async with raw_server(handler) as (url, counts):
        assert (await post(client, url)).status == 202
        await asyncio.sleep(0.05)  # the extra bytes arrive while the connection is idle
        assert (await post(client, url)).status == 202
    assert len(counts) == 2


async def test_an_answer_written_a_byte_at_a_time_is_read_whole(client):
    """The head, the chunk sizes and the body may come in any pieces."""
    answer = (
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nX-Long: "
        + b"y" * 300
        + b"\r\n\r\n3\r\none\r\n4\r\n,two\r\n0\r\nTrailer: t\r\n\r\n"
    )

    async def handler(reader, writer, number):
        while await read_request(reader) is not None:
            for index in range(len(answer)):
                writer.write(answer[index : index + 1])
                await writer.drain()

    async with raw_server(handler) as (url, counts):
        for _ in range(2):
            reply = await post(client, url)
            assert (reply.status, reply.body, reply.reusable) == (202, b"one,two", True)
    assert len(counts) == 1


async def test_a_body_larger_than_the_read_buffer_is_read_whole(client):
    """Past its buffer's limit the connection stops reading until the body is taken."""
    body = bytes(range(256)) * 4096  # 1 MiB, four times the buffer

    async def handler(reader, writer, number):
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    async with raw_server(handler) as (url, counts):
        for _ in range(2):
            headers = {"Content-Type": "application/activity+json"}
            answer = await client.post(
                url, b"{}", headers, timeout_seconds=5, max_body_bytes=2 * len(body)
            )
            assert (answer.status, answer.body == body, answer.reusable) == (200, True, True)
    assert len(counts) == 1
