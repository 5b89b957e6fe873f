"""Fetching documents from a real server on loopback: signed, capped, checked."""

from __future__ import annotations

import gzip

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from activitypub.addresses import AddressPolicy, guarded_client
from activitypub.errors import (
    DocumentInvalid,
    FetchFailed,
    FetchRefused,
    Gone,
    ResponseTooLarge,
)
from activitypub.fetch import Fetcher
from activitypub.objects import parse_activity, parse_actor
from tests.activitypub.signers import Received, Signer, new_signer, recording_app, verify
from tests.support.serve import fixture_url, serve_app, serve_static_fixtures

LOOPBACK = AddressPolicy(allow_http=True, allow_private_addresses=True)
AS2 = "application/activity+json"
MAX_BODY_BYTES = 4096


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer()


def fetcher(client: httpx.AsyncClient, signer: Signer, policy=LOOPBACK) -> Fetcher:
    return Fetcher(
        client,
        policy,
        key_id=signer.key_id,
        private_key=signer.private_key,
        max_body_bytes=MAX_BODY_BYTES,
        timeout_seconds=5,
    )


def json_response(document: dict, media_type: str = AS2, status_code: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code=status_code, media_type=media_type)


async def site(request: Request) -> Response:
    """One route per behaviour under test; documents name themselves by their URL."""
    path = request.url.path
    here = str(request.url)
    if path == "/note":
        return json_response({"id": here, "type": "Note", "content": "hi"})
    if path == "/ld-note":
        ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
        return json_response({"id": here, "type": "Note"}, ld)
    if path == "/other-id":
        return json_response({"id": here.replace("other-id", "note"), "type": "Note"})
    if path == "/big":
        return json_response({"id": here, "content": "x" * MAX_BODY_BYTES})
    if path == "/big-chunked":
        chunks = (b'{"id": "x", "content": "' + b"x" * 1024 for _ in range(8))
        return StreamingResponse(chunks, media_type=AS2)
    if path == "/bomb":
        body = gzip.compress(b'{"content": "' + b" " * (MAX_BODY_BYTES * 100) + b'"}')
        return Response(body, media_type=AS2, headers={"Content-Encoding": "gzip"})
    if path == "/gzipped":
        body = gzip.compress(orjson.dumps({"id": here, "type": "Note"}))
        return Response(body, media_type=AS2, headers={"Content-Encoding": "gzip"})
    if path == "/gone":
        return Response("gone", status_code=410)
    if path == "/broken":
        return Response("oops", status_code=500)
    if path == "/html":
        return Response(f"<p>{here}</p>", media_type="text/html")
    if path == "/not-json":
        return Response("{nope", media_type=AS2)
    if path == "/array":
        return json_response([1, 2])  # type: ignore[arg-type]
    if path.startswith("/redirect-to/"):
        target = request.query_params["to"]
        return Response(status_code=302, headers={"Location": target})
    if path == "/loop":
        return Response(status_code=301, headers={"Location": "/loop"})
    return Response("not found", status_code=404)


@pytest.fixture
async def server():
    received: list[Received] = []
    async with serve_app(recording_app(site, received)) as base_url:
        yield base_url, received


async def test_fetch_is_signed_by_the_instance_actor(server, signer):
    """The GET arrives with a draft-cavage signature that helper-1's verifier accepts."""
    base_url, received = server
    async with httpx.AsyncClient() as client:
        document = await fetcher(client, signer).fetch_json(f"{base_url}/note?x=1")
    assert document["type"] == "Note"
    request = received[0]
    assert request.headers["accept"].startswith("application/activity+json")
    assert "(request-target) host date" in request.headers["signature"]
    verified = await verify(request, signer)
    assert verified.owner == signer.owner


async def test_ld_json_and_gzip_answers_are_accepted(server, signer):
    """application/ld+json with the AS profile is accepted, and gzip bodies are inflated."""
    base_url, _ = server
    async with httpx.AsyncClient() as client:
        ld = await fetcher(client, signer).fetch_json(f"{base_url}/ld-note")
        gzipped = await fetcher(client, signer).fetch_json(f"{base_url}/gzipped")
    assert ld["type"] == gzipped["type"] == "Note"


@pytest.mark.parametrize("path", ["/big", "/big-chunked", "/bomb"])
async def test_oversized_bodies_are_refused(server, signer, path):
    """Declared, streamed and decompressed sizes are all held to the cap."""
    base_url, _ = server
    async with httpx.AsyncClient() as client:
        with pytest.raises(ResponseTooLarge):
            await fetcher(client, signer).fetch_json(f"{base_url}{path}")


async def test_a_document_whose_id_is_not_the_url_is_refused(server, signer):
    """compare_id: the id must be the URL asked for."""
    base_url, _ = server
    async with httpx.AsyncClient() as client:
        with pytest.raises(DocumentInvalid, match="has the id"):
            await fetcher(client, signer).fetch_json(f"{base_url}/other-id")


async def test_an_unknown_id_is_fetched_again_from_itself(server, signer):
    """With id_is_known=False the document is refetched from its own id."""
    base_url, received = server
    async with httpx.AsyncClient() as client:
        document = await fetcher(client, signer).fetch_json(
            f"{base_url}/other-id", id_is_known=False
        )
    assert document["id"] == f"{base_url}/note"
    assert [r.url for r in received] == [f"{base_url}/other-id", f"{base_url}/note"]


async def test_410_is_gone_and_500_is_a_failure_with_its_status(server, signer):
    """410 raises Gone; other statuses raise FetchFailed carrying the status."""
    base_url, _ = server
    async with httpx.AsyncClient() as client:
        with pytest.raises(Gone) as gone:
            await fetcher(client, signer).fetch_json(f"{base_url}/gone")
        with pytest.raises(FetchFailed) as failed:
            await fetcher(client, signer).fetch_json(f"{base_url}/broken")
    assert (gone.value.code, gone.value.status) == ("gone", 410)
    assert (failed.value.code, failed.value.status) == ("fetch_failed", 500)


@pytest.mark.parametrize("path", ["/html", "/not-json", "/array"])
async def test_wrong_media_type_or_non_object_json_is_invalid(server, signer, path):
    """HTML, broken JSON and JSON that is not an object are DocumentInvalid."""
    base_url, _ = server
    async with httpx.AsyncClient() as client:
        with pytest.raises(DocumentInvalid):
            await fetcher(client, signer).fetch_json(f"{base_url}{path}")


async def test_redirects_are_followed_by_hand_and_each_hop_is_signed(server, signer):
    """A redirect to an allowed URL is followed; the second hop is signed for its own URL."""
    base_url, received = server
    url = f"{base_url}/redirect-to/x?to={base_url}/note"
    async with httpx.AsyncClient() as client:
        document = await fetcher(client, signer).fetch_json(url, id_is_known=False)
    assert document["id"] == f"{base_url}/note"
    # The redirect, its target (whose id is not the URL asked for), then the id itself.
    assert [r.url for r in received] == [url, f"{base_url}/note", f"{base_url}/note"]
    await verify(received[1], signer)


@pytest.mark.parametrize(
    "target",
    ["ftp://127.0.0.1/secret", "http://user:password@127.0.0.1:{port}/note", "file:///etc/passwd"],
)
async def test_a_redirect_to_a_refused_url_is_refused_before_it_is_requested(
    server, signer, target
):
    """Each hop passes the address policy; the refused target never sees a request."""
    base_url, received = server
    port = base_url.rsplit(":", 1)[1]
    url = f"{base_url}/redirect-to/x"
    async with httpx.AsyncClient() as client:
        with pytest.raises(FetchRefused):
            await fetcher(client, signer).fetch_json(
                str(httpx.URL(url, params={"to": target.format(port=port)}))
            )
    assert len(received) == 1


async def test_redirect_loops_stop(server, signer):
    """More than max_redirects hops is a failure, not a hang."""
    base_url, received = server
    async with httpx.AsyncClient() as client:
        with pytest.raises(FetchFailed, match="redirected more than"):
            await fetcher(client, signer).fetch_json(f"{base_url}/loop")
    assert len(received) == 4


async def test_the_policy_refuses_loopback_before_sending(server, signer):
    """With the production policy, a loopback URL is refused and nothing is sent."""
    base_url, received = server
    async with httpx.AsyncClient() as client:
        strict = fetcher(client, signer, AddressPolicy(allow_http=True))
        with pytest.raises(FetchRefused):
            await strict.fetch_json(f"{base_url}/note")
    assert received == []


async def test_the_guarded_transport_refuses_at_connect_time(server, signer):
    """Even if the URL check passed (DNS rebinding), the guarded client will not connect."""
    base_url, received = server
    async with guarded_client(AddressPolicy(allow_http=True), timeout_seconds=5) as client:
        with pytest.raises(FetchRefused):
            await fetcher(client, signer, LOOPBACK).fetch_json(f"{base_url}/note")
    assert received == []


async def test_the_permissive_guarded_transport_connects(server, signer):
    """A guarded client whose policy allows loopback fetches normally."""
    base_url, _ = server
    async with guarded_client(LOOPBACK, timeout_seconds=5) as client:
        document = await fetcher(client, signer).fetch_json(f"{base_url}/note")
    assert document["type"] == "Note"


async def test_recorded_documents_fetch_and_parse(signer):
    """Real-world recordings served over HTTP fetch, pass compare_id, and parse."""
    async with serve_static_fixtures() as base_url, httpx.AsyncClient() as client:
        fetch = fetcher(client, signer)
        fetch_big = Fetcher(
            client,
            LOOPBACK,
            key_id=signer.key_id,
            private_key=signer.private_key,
            max_body_bytes=1_000_000,
            timeout_seconds=5,
        )
        felix = parse_actor(
            await fetch.fetch_json(fixture_url(base_url, "https://mastodon.madrid/users/felix"))
        )
        mitra = parse_actor(
            await fetch_big.fetch_json(
                fixture_url(base_url, "https://mitra.social/users/silverpill")
            )
        )
        announce = parse_activity(
            await fetch.fetch_json(
                fixture_url(
                    base_url,
                    "https://enterprise.lemmy.ml/activities/announce/"
                    "8030b171-803a-4108-94b1-342688f375cf",
                )
            )
        )
    assert felix.inbox == fixture_url(base_url, "https://mastodon.madrid/users/felix/inbox")
    assert len(mitra.assertion_methods) == 2
    assert announce.type == "Announce"
