"""WebFinger: handles, the documents we serve, and lookups against a real server."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from activitypub.addresses import AddressPolicy
from activitypub.errors import InvalidHandle, WebFingerMismatch
from activitypub.fetch import Fetcher
from activitypub.webfinger import (
    Handle,
    find_actor_link,
    lookup,
    parse_acct,
    parse_jrd,
    render_host_meta,
    render_jrd,
    verify_actor_handle,
)
from tests.activitypub.signers import Received, recording_app
from tests.support.serve import serve_app

LD_AS2 = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@pytest.mark.parametrize(
    "text",
    [
        "acct:Ana@Share.Example",
        "ACCT:ana@share.example",
        "@ana@share.example",
        " ana@share.example ",
    ],
)
def test_handles_parse_in_every_accepted_form(text):
    """acct:, @-prefixed and bare forms give the same lowercased handle."""
    handle = parse_acct(text)
    assert handle == Handle("ana", "share.example")
    assert handle.acct == "acct:ana@share.example"
    assert str(handle) == "ana@share.example"


def test_usernames_with_dots_dashes_ports_and_unicode_domains():
    """Mastodon's username rule, host:port domains, IDN domains and the instance actor."""
    assert parse_acct("ana.b-c_d@share.example").username == "ana.b-c_d"
    assert parse_acct("ana@localhost:8001").domain == "localhost:8001"
    assert parse_acct("ana@bücher.example").domain == "xn--bcher-kva.example"
    assert parse_acct("share.example@share.example").username == "share.example"
    assert parse_acct("localhost:8001@localhost:8001").username == "localhost:8001"


@pytest.mark.parametrize(
    "text",
    [
        "ana",
        "@ana",
        "ana@",
        "@share.example",
        "ana@bob@share.example",
        "an!a@share.example",
        "ana.@share.example",
        ".ana@share.example",
        "-ana@share.example",
        "ana@share example.org",
        "ana@-share.example",
        "ana@share.example:port",
        "ana@share.example/path",
        "",
    ],
)
def test_malformed_handles_are_refused(text):
    """Anything else is InvalidHandle, with a message safe to show."""
    with pytest.raises(InvalidHandle):
        parse_acct(text)


def test_jrd_round_trip_keeps_the_subject_exactly_as_queried():
    """render_jrd echoes the subject verbatim and parse_jrd finds the self link again."""
    jrd = render_jrd(
        "acct:Ana@share.example",
        "https://share.example/users/ana",
        "https://share.example/@ana",
        subscribe_template="https://share.example/authorize_interaction?uri={uri}",
        avatar_url="https://share.example/avatars/ana.png",
        avatar_media_type="image/png",
    )
    assert jrd["subject"] == "acct:Ana@share.example"
    assert jrd["aliases"] == ["https://share.example/users/ana", "https://share.example/@ana"]
    rels = [link["rel"] for link in jrd["links"]]
    assert rels == [
        "http://webfinger.net/rel/profile-page",
        "self",
        "http://ostatus.org/schema/1.0/subscribe",
        "http://webfinger.net/rel/avatar",
    ]
    assert jrd["links"][1] == {
        "rel": "self",
        "type": "application/activity+json",
        "href": "https://share.example/users/ana",
    }
    parsed = parse_jrd(orjson.loads(orjson.dumps(jrd)))
    assert parsed.subject == "acct:Ana@share.example"
    assert find_actor_link(parsed) == "https://share.example/users/ana"


def test_host_meta_points_at_webfinger():
    """host-meta is an XRD with an LRDD template for our WebFinger endpoint."""
    xml = render_host_meta("https://share.example/")
    root = ElementTree.fromstring(xml)
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None and link.get("rel") == "lrdd"
    assert link.get("template") == "https://share.example/.well-known/webfinger?resource={uri}"


async def webfinger_site(request: Request) -> Response:
    """A WebFinger server whose answers depend on the username asked for."""
    base = f"{request.url.scheme}://{request.url.netloc}"
    resource = request.query_params.get("resource", "")
    handle = parse_acct(resource)
    name, domain = handle.username, handle.domain
    media_type = "application/jrd+json"
    subject, actor, link_type = resource, f"{base}/users/{name}", "application/activity+json"
    if name == "ld":
        link_type = LD_AS2
    elif name == "plain":
        media_type = "application/json"
    elif name == "alias":
        subject, actor = f"acct:ana@{domain}", f"{base}/users/ana"
    elif name == "liar":
        subject = f"acct:liar2@{domain}"
    elif name == "liar2":
        subject = f"acct:carol@{domain}"
    elif name == "wrongtype":
        link_type = "text/html"
    elif name == "impostor":
        actor = f"{base}/users/ana"
    jrd = render_jrd(subject, actor, f"{base}/@{name}")
    if name == "noself":
        jrd["links"] = [link for link in jrd["links"] if link["rel"] != "self"]
    else:
        jrd["links"][1]["type"] = link_type
    return Response(orjson.dumps(jrd), media_type=media_type)


@pytest.fixture
async def site():
    received: list[Received] = []
    async with (
        serve_app(recording_app(webfinger_site, received)) as base_url,
        httpx.AsyncClient() as client,
    ):
        fetcher = Fetcher(
            client,
            AddressPolicy(allow_http=True, allow_private_addresses=True),
            key_id=None,
            private_key=None,
            max_body_bytes=65536,
            timeout_seconds=5,
        )
        yield base_url, fetcher, received


def handle_on(base_url: str, name: str) -> Handle:
    return parse_acct(f"{name}@{base_url.split('://', 1)[1]}")


@pytest.mark.parametrize("name", ["ana", "ld", "plain"])
async def test_lookup_returns_the_actor_id(site, name):
    """activity+json and ld+json self links, JRD or plain JSON answers, all resolve."""
    base_url, fetcher, received = site
    actor_id = await lookup(fetcher, handle_on(base_url, name))
    assert actor_id == f"{base_url}/users/{name}"
    assert received[0].headers["accept"].startswith("application/jrd+json")
    assert "signature" not in received[0].headers
    assert received[0].url.endswith(f"resource=acct:{name}@{base_url.split('://', 1)[1]}")


async def test_lookup_follows_one_subject_redirect(site):
    """A subject naming another handle is asked again, and that answer is used."""
    base_url, fetcher, received = site
    assert await lookup(fetcher, handle_on(base_url, "alias")) == f"{base_url}/users/ana"
    assert len(received) == 2


async def test_lookup_refuses_a_subject_that_does_not_loop_back(site):
    """If the redirected handle names yet another subject, the lookup fails."""
    base_url, fetcher, _ = site
    with pytest.raises(WebFingerMismatch, match="loop back"):
        await lookup(fetcher, handle_on(base_url, "liar"))


@pytest.mark.parametrize("name", ["noself", "wrongtype"])
async def test_lookup_needs_an_activitypub_self_link(site, name):
    """No self link, or one that is not an ActivityStreams document, fails the lookup."""
    base_url, fetcher, _ = site
    with pytest.raises(WebFingerMismatch, match="no ActivityPub actor link"):
        await lookup(fetcher, handle_on(base_url, name))


async def test_verify_actor_handle_accepts_an_actor_webfinger_points_back_to(site):
    """actor → preferredUsername@host → WebFinger self link → the same actor."""
    base_url, fetcher, _ = site
    handle = await verify_actor_handle(fetcher, f"{base_url}/users/ana", "Ana")
    assert handle == handle_on(base_url, "ana")


async def test_verify_actor_handle_refuses_a_self_link_elsewhere(site):
    """An actor claiming a name whose WebFinger names another actor is refused."""
    base_url, fetcher, _ = site
    with pytest.raises(WebFingerMismatch, match="does not point back"):
        await verify_actor_handle(fetcher, f"{base_url}/users/mallory", "impostor")
