"""FEP-0837 Proposals as other implementations publish them, delivered signed to an inbox.

The documents are recorded under tests/fixtures (see SOURCES.md): Mitra's Proposal and
the FEP's own example, a bare ``Proposal``. Their authors' private keys are not ours, so
each actor served here carries a public key we hold; the Proposals are as recorded.
Neither implementation sends ``Create(Proposal)`` (Mitra links its Proposal from the
actor, FEP-0ea0), so the signed ``Create`` around each is the test's own.
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
from fediverse_share.worker import run_until_idle
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import Instance, running_instance
from tests.support.serve import FIXTURES_ROOT, fixture_url, serve_static_fixtures

MITRA_ACTOR = "https://mitra.social/users/silverpill"
MITRA_PROPOSAL = f"{MITRA_ACTOR}/proposals/monero:418015bb9ae982a1975da7d79277c270"
FEP_ACTOR = "https://market.example/users/alice"
FEP_PROPOSAL = "https://market.example/proposals/ddde9d6f-6f3b-4770-a966-3a18ef006930"


def _fixtures_with_our_keys(root: Path) -> dict[str, KeyPair]:
    """Copy the fixtures to ``root``; give both authors a key pair we hold."""
    shutil.copytree(FIXTURES_ROOT, root, ignore=shutil.ignore_patterns("signatures"))
    keys = {}
    for actor_url in (MITRA_ACTOR, FEP_ACTOR):
        path = root / f"{actor_url.removeprefix('https://')}.json"
        actor = orjson.loads(path.read_bytes())
        keys[actor_url] = generate_rsa_keypair()
        actor["publicKey"]["publicKeyPem"] = keys[actor_url].public_key_pem
        path.write_bytes(orjson.dumps(actor))
    return keys


async def _deliver_create(instance: Instance, actor: str, obj: Any, keys: KeyPair) -> int:
    """``Create(obj)`` by ``actor`` (its served URL), signed with ``keys``, to the inbox."""
    create = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/activities/create-1",
        "type": "Create",
        "actor": actor,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": obj,
    }
    body = orjson.dumps(create)
    url = f"{instance.base_url}/inbox"
    headers = {"Content-Type": "application/activity+json"}
    private_key = load_private_key(keys.private_key_pem)
    headers |= sign_request(
        "POST", url, headers, body, key_id=f"{actor}#main-key", private_key=private_key
    )
    async with httpx.AsyncClient() as client:
        return (await client.post(url, content=body, headers=headers)).status_code


def _listing(conn: Connection, uri: str) -> dict[str, Any] | None:
    l = tables.listings  # noqa: E741
    row = conn.execute(select(l).where(l.c.uri == uri)).mappings().first()
    return None if row is None else dict(row)


def _inbox_errors(conn: Connection) -> list[str]:
    i = tables.inbox_items
    return list(conn.execute(select(i.c.error).where(i.c.error.is_not(None))).scalars())


async def test_mitra_and_bare_fep_proposals_become_listings(tmp_path: Path) -> None:
    """Mitra's Proposal (fetched by reference) and the FEP's bare one (embedded) are kept."""
    keys = _fixtures_with_our_keys(tmp_path / "fixtures")
    async with (
        serve_static_fixtures(tmp_path / "fixtures") as recorded,
        running_instance("a", tmp_path, TEST_DATABASE_URL) as a,
        httpx.AsyncClient() as client,
    ):
        mitra_uri = fixture_url(recorded, MITRA_PROPOSAL)
        mitra_actor = fixture_url(recorded, MITRA_ACTOR)
        assert await _deliver_create(a, mitra_actor, mitra_uri, keys[MITRA_ACTOR]) == 202
        bare = (await client.get(fixture_url(recorded, FEP_PROPOSAL))).json()
        bare_actor = fixture_url(recorded, FEP_ACTOR)
        assert await _deliver_create(a, bare_actor, bare, keys[FEP_ACTOR]) == 202
        await run_until_idle(a.runtime)
        assert await a.runtime.db.read(_inbox_errors) == []

        mitra = await a.runtime.db.read(_listing, mitra_uri)
        assert mitra is not None and not mitra["local"]
        assert (mitra["title"], mitra["purpose"], mitra["kind"]) == (
            "Pay for subscription", "offer", "sell",
        )  # fmt: skip
        assert (mitra["quantity"], mitra["unit"], mitra["price_text"]) == ("1", "second", "20000")

        listing = await a.runtime.db.read(_listing, bare["id"])
        assert listing is not None and listing["title"] == "Offering used bike"
        assert listing["description"] == "Blue one-speed bike, 15 years old, some rust"
        assert (listing["quantity"], listing["unit"], listing["price_text"]) == ("1", "one", "30")
        assert listing["currency_uri"] == "https://www.wikidata.org/wiki/Q4917"

        found = await client.get(f"{a.base_url}/api/exchange/v1/listings", params={"q": "bike"})
        assert [x["uri"] for x in found.json()["listings"]] == [bare["id"]]
