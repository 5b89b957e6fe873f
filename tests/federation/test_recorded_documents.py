"""Documents recorded from Mastodon and Lemmy, delivered signed, are stored and handled.

The recorded actors' private keys are not ours, so each copy served here carries a
public key we hold; everything else is the document as recorded (tests/fixtures).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, select

from activitypub.cavage import sign_request
from activitypub.keys import KeyPair, generate_rsa_keypair, load_private_key
from fediverse_share import tables
from fediverse_share.federation import posts
from fediverse_share.worker import run_until_idle
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance
from tests.support.serve import FIXTURES_ROOT, fixture_url, serve_static_fixtures

MASTODON_CREATE = "https://mastodon.madrid/users/felix/statuses/107224289116410645/activity"
LEMMY_ANNOUNCE = (
    "https://enterprise.lemmy.ml/activities/announce/8030b171-803a-4108-94b1-342688f375cf"
)
SIGNERS = {
    "mastodon.madrid/users/felix.json": MASTODON_CREATE,
    "enterprise.lemmy.ml/c/main.json": LEMMY_ANNOUNCE,
}


def _fixtures_with_our_keys(root: Path) -> dict[str, KeyPair]:
    shutil.copytree(FIXTURES_ROOT, root, ignore=shutil.ignore_patterns("signatures"))
    keys: dict[str, KeyPair] = {}
    for relative, activity in SIGNERS.items():
        path = root / relative
        actor = orjson.loads(path.read_bytes())
        keys[activity] = generate_rsa_keypair()
        actor["publicKey"]["publicKeyPem"] = keys[activity].public_key_pem
        path.write_bytes(orjson.dumps(actor))
    return keys


async def _deliver(instance: Instance, document: dict[str, Any], keys: KeyPair) -> int:
    body = orjson.dumps(document)
    url = f"{instance.base_url}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    headers |= sign_request(
        "POST",
        url,
        headers,
        body,
        key_id=f"{document['actor']}#main-key",
        private_key=load_private_key(keys.private_key_pem),
    )
    async with httpx.AsyncClient() as client:
        return (await client.post(url, content=body, headers=headers)).status_code


def _inbox_errors(conn: Connection) -> list[str]:
    i = tables.inbox_items
    return list(conn.execute(select(i.c.error).where(i.c.error.is_not(None))).scalars())


async def test_recorded_mastodon_create_and_lemmy_announce(tmp_path: Path) -> None:
    """A Mastodon Create(Note) and a Lemmy Group's Announce(Create(Page)) are handled."""
    keys = _fixtures_with_our_keys(tmp_path / "fixtures")
    async with (
        serve_static_fixtures(tmp_path / "fixtures") as recorded,
        running_instance("a", tmp_path, TEST_DATABASE_URL) as a,
        httpx.AsyncClient() as client,
    ):
        documents = {}
        for original, pair in keys.items():
            documents[original] = (await client.get(fixture_url(recorded, original))).json()
            assert await _deliver(a, documents[original], pair) == 202
        await run_until_idle(a.runtime)
        assert await a.runtime.db.read(_inbox_errors) == []

        note = documents[MASTODON_CREATE]["object"]
        stored = await a.runtime.db.read(posts.find_post, note["id"])
        public = "https://www.w3.org/ns/activitystreams#Public"
        expected = "public" if public in note["to"] else "unlisted"
        assert stored is not None and stored["visibility"] == expected
        assert "<script" not in stored["content"] and stored["content"]

        page = documents[LEMMY_ANNOUNCE]["object"]["object"]
        stored_page = await a.runtime.db.read(posts.find_post, page["id"])
        assert stored_page is not None and stored_page["type"] == "Page"
