"""Bad input at the inbox gets a clear error and loses nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Connection, func, select
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from activitypub.cavage import sign_request
from activitypub.errors import FetchRefused
from activitypub.keys import generate_rsa_keypair, load_private_key
from fediverse_share import members, standalone, tables
from fediverse_share.federation import remote_actors
from fediverse_share.members import Member
from fediverse_share.worker import run_until_idle
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, prepared_instance, running_instance, serving

JSON = "application/activity+json"


def _count(conn: Connection, table: Any) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _follow(sender: Member, target_uri: str, suffix: str = "1") -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{sender.uri}#follows/test-{suffix}",
        "type": "Follow",
        "actor": sender.uri,
        "object": target_uri,
    }


async def _post(
    instance: Instance,
    sender_instance: Instance,
    sender: Member,
    doc: dict[str, Any] | bytes,
    *,
    private_key: Any = None,
    now: datetime | None = None,
    tamper: bytes | None = None,
) -> httpx.Response:
    body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    url = f"{instance.base_url}/inbox"
    if private_key is None:
        private_key = (await sender_instance.runtime.keys.signing_key(sender.actor_id)).private_key
    headers = {"Content-Type": JSON}
    headers.update(
        sign_request(
            "POST",
            url,
            headers,
            body,
            key_id=f"{sender.uri}#main-key",
            private_key=private_key,
            now=now,
        )
    )
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=tamper or body, headers=headers)


@pytest.fixture
async def setup(two: tuple[Instance, Instance]) -> tuple[Instance, Instance, Member, Member]:
    a, b = two
    bob = await members.add_member(b.runtime, "bob", None)
    eve = await members.add_member(b.runtime, "eve", None)
    return a, b, bob, eve


async def test_unsigned_post_is_refused(setup: Any) -> None:
    """A POST without a signature gets 401 JSON and stores nothing."""
    a, _, bob, _ = setup
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{a.base_url}/inbox", json=_follow(bob, "x"))
    assert response.status_code == 401
    assert response.json()["code"] == "signature_missing"
    assert await a.runtime.db.read(_count, tables.inbox_items) == 0


async def test_wrong_key_tampered_body_stale_date_and_foreign_key(setup: Any) -> None:
    """A wrong key, a changed body, an old Date and someone else's key are all 401."""
    a, b, bob, eve = setup
    target = a.runtime.instance.community_uri
    stranger = load_private_key(generate_rsa_keypair().private_key_pem)
    wrong_key = await _post(a, b, bob, _follow(bob, target), private_key=stranger)
    assert (wrong_key.status_code, wrong_key.json()["code"]) == (401, "signature_invalid")

    tampered = orjson.dumps(_follow(bob, target, "2"))
    changed = await _post(a, b, bob, _follow(bob, target, "3"), tamper=tampered)
    assert (changed.status_code, changed.json()["code"]) == (401, "digest_mismatch")

    old = datetime.now(UTC) - timedelta(hours=3)
    stale = await _post(a, b, bob, _follow(bob, target, "4"), now=old)
    assert (stale.status_code, stale.json()["code"]) == (401, "date_out_of_window")

    # eve signs an activity that claims to be bob's
    eve_key = (await b.runtime.keys.signing_key(eve.actor_id)).private_key
    body = orjson.dumps(_follow(bob, target, "5"))
    url = f"{a.base_url}/inbox"
    headers = {"Content-Type": JSON}
    headers.update(
        sign_request("POST", url, headers, body, key_id=f"{eve.uri}#main-key", private_key=eve_key)
    )
    async with httpx.AsyncClient() as client:
        impostor = await client.post(url, content=body, headers=headers)
    assert (impostor.status_code, impostor.json()["code"]) == (401, "key_owner_mismatch")
    assert await a.runtime.db.read(_count, tables.inbox_items) == 0


async def test_replayed_activity_changes_nothing(setup: Any) -> None:
    """The same signed activity twice is accepted twice and acted on once."""
    a, b, bob, _ = setup
    follow = _follow(bob, a.runtime.instance.community_uri)
    first = await _post(a, b, bob, follow)
    second = await _post(a, b, bob, follow)
    assert (first.status_code, second.status_code) == (202, 202)
    await run_until_idle(a.runtime, b.runtime)
    assert await a.runtime.db.read(_count, tables.inbox_items) == 1
    assert await a.runtime.db.read(_count, tables.follows) == 1


async def test_oversized_and_malformed_bodies(setup: Any) -> None:
    """Too large is 413, not JSON is 400, and neither is stored."""
    a, b, bob, _ = setup
    big = await _post(a, b, bob, b"{" + b" " * (a.settings.max_body_bytes + 1) + b"}")
    assert big.status_code == 413
    broken = await _post(a, b, bob, b'{"type": "Follow",')
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    assert await a.runtime.db.read(_count, tables.inbox_items) == 0


async def test_object_from_another_host_is_refused(setup: Any) -> None:
    """An actor cannot Create an object whose id lives on another server."""
    a, b, bob, _ = setup
    create = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{bob.uri}/statuses/1/activity",
        "type": "Create",
        "actor": bob.uri,
        "object": {
            "id": f"{a.base_url}/users/alice/statuses/1",
            "type": "Note",
            "attributedTo": bob.uri,
            "content": "forged",
        },
    }
    response = await _post(a, b, bob, create)
    assert (response.status_code, response.json()["code"]) == (403, "origin_mismatch")
    assert await a.runtime.db.read(_count, tables.inbox_items) == 0


async def test_private_addresses_are_not_fetched(tmp_path: Path) -> None:
    """With the default policy, loopback and private hosts are refused before connecting."""
    async with prepared_instance("p", tmp_path, TEST_DATABASE_URL) as settings:
        strict = dataclasses.replace(settings, allow_http=False, allow_private_addresses=False)
        async with standalone.runtime(strict) as runtime:
            for url in (
                "https://127.0.0.1/users/x",
                "https://localhost/users/x",
                "https://10.1.2.3/users/x",
                "https://[::1]/users/x",
                "http://example.org/users/x",
            ):
                with pytest.raises(FetchRefused):
                    await remote_actors.get_actor(runtime, url)


def _answering_410_for(paths: set[str]) -> Callable[[ASGIApp], ASGIApp]:
    """An instance whose operator deleted accounts: their actor URLs answer 410 Gone."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def gone(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] in paths:
                await PlainTextResponse("gone", status_code=410)(scope, receive, send)
            else:
                await app(scope, receive, send)

        return gone

    return wrap


async def test_a_deleted_actors_key_stops_verifying(tmp_path: Path) -> None:
    """B's bob deletes his account: once A has processed his Delete, a request signed
    with his key is refused (401), though the key was cached; an Update of an actor
    drops its cached keys, so a rotated-out key is not kept either."""
    deleted: set[str] = set()
    async with (
        running_instance("a", tmp_path, TEST_DATABASE_URL) as a,
        prepared_instance("b", tmp_path, TEST_DATABASE_URL) as settings,
        serving("b", settings, _answering_410_for(deleted)) as b,
    ):
        bob = await members.add_member(b.runtime, "bob", None)
        eve = await members.add_member(b.runtime, "eve", None)
        target = a.runtime.instance.community_uri
        assert (await _post(a, b, eve, _follow(eve, target, "e1"))).status_code == 202
        update = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Update",
                  "id": f"{eve.uri}#updates/1", "actor": eve.uri, "object": eve.uri}  # fmt: skip
        assert (await _post(a, b, eve, update)).status_code == 202
        assert f"{eve.uri}#main-key" in a.runtime.public_keys
        await run_until_idle(a.runtime)
        assert f"{eve.uri}#main-key" not in a.runtime.public_keys  # read again when needed

        assert (await _post(a, b, bob, _follow(bob, target, "1"))).status_code == 202
        deleted.add(f"/users/{bob.username}")
        delete = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Delete",
                  "id": f"{bob.uri}#delete", "actor": bob.uri, "object": bob.uri}  # fmt: skip
        assert (await _post(a, b, bob, delete)).status_code == 202  # still in the cache
        await run_until_idle(a.runtime)
        refused = await _post(a, b, bob, _follow(bob, target, "2"))
        assert (refused.status_code, refused.json()["code"]) == (401, "key_unavailable")
        assert (await _post(a, b, eve, _follow(eve, target, "e2"))).status_code == 202
