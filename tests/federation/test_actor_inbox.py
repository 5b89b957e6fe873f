"""A member's own inbox (``/users/<name>/inbox``): verified, stored for them, handled."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, select

from activitypub.cavage import sign_request
from fediverse_share import members, tables
from fediverse_share.members import Member
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance

JSON = "application/activity+json"
AP = {"Accept": JSON}


def _stored(conn: Connection) -> list[tuple[str, int | None]]:
    """(activity id, recipient actor id) of everything the inbox kept."""
    i = tables.inbox_items
    return [(row[0], row[1]) for row in conn.execute(select(i.c.activity_uri, i.c.recipient_id))]


async def _signed(
    sender_instance: Instance, sender: Member, url: str, body: bytes
) -> dict[str, str]:
    """Headers that sign a POST of ``body`` to ``url`` with ``sender``'s own key."""
    key = await sender_instance.runtime.keys.signing_key(sender.actor_id)
    headers = {"Content-Type": JSON}
    signature = sign_request(
        "POST", url, headers, body, key_id=key.key_id, private_key=key.private_key
    )
    return headers | signature


async def test_a_post_to_a_members_inbox_is_verified_stored_for_them_and_handled(
    two: tuple[Instance, Instance],
) -> None:
    """Unsigned, tampered or signed-for-another-path POSTs are 401; a signed Follow is handled."""
    a, b = two
    alice = await members.add_member(a.runtime, "alice", None)
    bob = await members.add_member(b.runtime, "bob", None)
    inbox = f"{alice.uri}/inbox"
    follow: dict[str, Any] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{bob.uri}#follows/alice",
        "type": "Follow",
        "actor": bob.uri,
        "object": alice.uri,
    }
    body = orjson.dumps(follow)
    headers = await _signed(b, bob, inbox, body)
    for_shared_inbox = await _signed(b, bob, f"{a.base_url}/inbox", body)
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(inbox, content=body, headers={"Content-Type": JSON})
        tampered = await client.post(
            inbox, content=body.replace(b"Follow", b"Block"), headers=headers
        )
        elsewhere = await client.post(inbox, content=body, headers=for_shared_inbox)
        nobody = await client.post(
            f"{a.base_url}/users/nobody/inbox", content=body, headers=headers
        )
        assert [r.json()["code"] for r in (unsigned, tampered, elsewhere)] == [
            "signature_missing",
            "digest_mismatch",
            "signature_invalid",
        ]
        assert {r.status_code for r in (unsigned, tampered, elsewhere)} == {401}
        assert nobody.status_code == 404
        assert await a.runtime.db.read(_stored) == []

        accepted = await client.post(inbox, content=body, headers=headers)
        assert accepted.status_code == 202
        assert await a.runtime.db.read(_stored) == [(follow["id"], alice.actor_id)]

        await run_until_idle(a.runtime, b.runtime)
        first = (await client.get(f"{alice.uri}/followers", headers=AP)).json()["first"]
        followers = (await client.get(first, headers=AP)).json()["orderedItems"]
    assert followers == [bob.uri]
