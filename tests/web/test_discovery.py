"""Discovery as other servers see it: WebFinger, host-meta, NodeInfo, actor documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fediverse_share import members
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance
from tests.support.tokens import Community, SignedIn, community

AP = {"Accept": "application/activity+json"}
ACTOR_FIELDS = {
    "@context",
    "id",
    "type",
    "preferredUsername",
    "inbox",
    "outbox",
    "followers",
    "following",
    "endpoints",
    "publicKey",
    "manuallyApprovesFollowers",
    "discoverable",
    "name",
    "summary",
    "url",
    "icon",
    "published",
}


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    async with running_instance("a", tmp_path, TEST_DATABASE_URL, community="stairwell") as a:
        await members.add_member(a.runtime, "alice", None, display_name="Alice")
        yield a


async def _get(url: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, **kwargs)  # type: ignore[arg-type]


async def test_webfinger_finds_members_the_community_and_the_instance(instance: Instance) -> None:
    """acct: lookups answer with the subject as asked and a self link to the actor id."""
    domain, base = instance.domain, instance.base_url
    expected = {
        f"acct:alice@{domain}": f"{base}/users/alice",
        f"acct:stairwell@{domain}": f"{base}/users/stairwell",
        f"acct:{domain}@{domain}": f"{base}/actor",
        f"{base}/users/alice": f"{base}/users/alice",
    }
    for resource, actor_id in expected.items():
        response = await _get(f"{base}/.well-known/webfinger", params={"resource": resource})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/jrd+json")
        jrd = response.json()
        assert jrd["subject"] == resource
        selfs = [link for link in jrd["links"] if link["rel"] == "self"]
        assert selfs == [{"rel": "self", "type": "application/activity+json", "href": actor_id}]


async def test_webfinger_errors_are_json(instance: Instance) -> None:
    """Unknown names are 404, other domains 404, a missing resource 400, all JSON."""
    base = instance.base_url
    for params, status in (
        ({"resource": f"acct:nobody@{instance.domain}"}, 404),
        ({"resource": "acct:alice@elsewhere.example"}, 404),
        ({}, 400),
    ):
        response = await _get(f"{base}/.well-known/webfinger", params=params)
        assert response.status_code == status
        assert "error" in response.json()


async def test_actor_documents_have_every_field(instance: Instance) -> None:
    """Person, Group and Application documents carry DESIGN §3's fields, id = URL; the
    Person its reputation as a PropertyValue."""
    base = instance.base_url
    for path, kind in (
        ("/users/alice", "Person"),
        ("/users/stairwell", "Group"),
        ("/actor", "Application"),
    ):
        response = await _get(base + path, headers=AP)
        assert response.headers["content-type"].startswith("application/activity+json")
        doc = response.json()
        assert doc.keys() >= ACTOR_FIELDS, ACTOR_FIELDS - doc.keys()
        assert doc["type"] == kind and doc["id"] == base + path
        assert doc["@context"][:2] == [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
        ]
        key = doc["publicKey"]
        assert key["id"] == f"{base}{path}#main-key" and key["owner"] == doc["id"]
        assert "BEGIN PUBLIC KEY" in key["publicKeyPem"]
        assert doc["endpoints"]["sharedInbox"] == f"{base}/inbox"
        fields = [
            {"type": "PropertyValue", "name": "Reputation", "value": "3.00 / 5, no reviews yet"}
        ]
        assert doc.get("attachment") == (fields if kind == "Person" else None)
        context = {k: v for entry in doc["@context"][2:] for k, v in entry.items()}
        assert context["PropertyValue"] == "schema:PropertyValue"


async def test_browsers_get_a_profile_page(instance: Instance) -> None:
    """The actor URL answers HTML to a browser, with the handle on it."""
    for path in ("/users/alice", "/@alice", "/users/stairwell"):
        response = await _get(instance.base_url + path, headers={"Accept": "text/html"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert f"@{instance.domain}" in response.text


async def test_host_meta_and_nodeinfo(instance: Instance) -> None:
    """host-meta points at WebFinger; NodeInfo 2.0 and 2.1 count our members."""
    base = instance.base_url
    xrd = await _get(f"{base}/.well-known/host-meta")
    assert "lrdd" in xrd.text and "/.well-known/webfinger?resource={uri}" in xrd.text
    links = (await _get(f"{base}/.well-known/nodeinfo")).json()["links"]
    hrefs = {link["rel"].rsplit("/", 1)[-1]: link["href"] for link in links}
    for version in ("2.0", "2.1"):
        assert hrefs[version] == f"{base}/nodeinfo/{version}"
        doc = (await _get(hrefs[version])).json()
        assert doc["version"] == version
        assert doc["protocols"] == ["activitypub"]
        assert doc["usage"]["users"]["total"] == 1
    missing = await _get(f"{base}/nodeinfo/1.0")
    assert missing.status_code == 404


async def _post(site: Community, who: SignedIn, path: str, body: dict[str, Any]) -> Any:
    headers = {**who.headers, "Idempotency-Key": path.strip("/").replace("/", ".")}
    response = await site.http.post(f"/api/exchange/v1{path}", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _settle_and_review(site: Community, seller: SignedIn, buyer: SignedIn) -> None:
    """A paid trade between the two through the exchange API, then both reviews."""
    listing = {"ref": "https://example.org/listings/1", "title": "A ladder", "kind": "offer"}
    terms = {"listing": listing, "role": "provider", "option": "fixed", "price": "2.00"}
    trade = await _post(site, seller, "/trades", terms | {"with": buyer.username})
    path = f"/trades/{trade['id']}"
    for who, action in ((buyer, "accept"), (seller, "deliver"), (buyer, "confirm"), (buyer, "pay")):
        await _post(site, who, f"{path}/{action}", {})
    for who, rating in ((buyer, 5), (seller, 4)):
        await _post(site, who, f"{path}/review", {"rating": rating, "text": "Thanks"})


async def test_a_members_actor_shows_the_reputation_the_api_computes(tmp_path: Path) -> None:
    """After reviews, /users/NAME carries the same score as the reputation endpoint."""
    async with community(tmp_path) as site:
        alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
        await _settle_and_review(site, alice, bob)
        url = "/api/exchange/v1/members/alice/reputation"
        reputation = (await site.http.get(url, headers=bob.headers)).json()
        assert reputation["reviewer_count"] == 1 and reputation["score"] != "3.00"
        actor = (await site.http.get("/users/alice", headers=AP)).json()
    value = f"{reputation['score']} / 5 from 1 reviewer"
    assert actor["attachment"] == [{"type": "PropertyValue", "name": "Reputation", "value": value}]
