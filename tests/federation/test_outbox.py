"""A member's outbox over HTTP: their public Create activities, newest first, in pages."""

from __future__ import annotations

from pathlib import Path

import httpx

from fediverse_share import members
from fediverse_share.federation import actions
from fediverse_share.federation.render import PUBLIC
from fediverse_share.web.actors import PAGE_SIZE
from tests.conftest import TEST_DATABASE_URL
from tests.support.instances import running_instance

AP = {"Accept": "application/activity+json"}


async def test_outbox_pages_hold_the_public_creates_newest_first(tmp_path: Path) -> None:
    """PAGE_SIZE + 1 public posts make two linked pages; private and direct posts stay out."""
    async with (
        running_instance("a", tmp_path, TEST_DATABASE_URL) as a,
        httpx.AsyncClient() as client,
    ):
        alice = await members.add_member(a.runtime, "alice", None)
        public = []
        for number in range(PAGE_SIZE + 1):
            public.append(await actions.post(a.runtime, alice, f"<p>public {number}</p>"))
            if number == 7:
                await actions.post(a.runtime, alice, "<p>followers only</p>", visibility="private")
                await actions.post(a.runtime, alice, "<p>to nobody</p>", visibility="direct")

        outbox = f"{alice.uri}/outbox"
        collection = (await client.get(outbox, headers=AP)).json()
        assert collection["type"] == "OrderedCollection" and collection["id"] == outbox
        assert collection["totalItems"] == PAGE_SIZE + 1
        pages = [(await client.get(collection["first"], headers=AP)).json()]
        pages.append((await client.get(pages[0]["next"], headers=AP)).json())
        assert "next" not in pages[1]
        assert [len(page["orderedItems"]) for page in pages] == [PAGE_SIZE, 1]
        assert {(page["type"], page["partOf"]) for page in pages} == {
            ("OrderedCollectionPage", outbox)
        }

    items = [item for page in pages for item in page["orderedItems"]]
    assert [item["id"] for item in items] == [p.activity_uri for p in reversed(public)]
    assert [item["object"]["id"] for item in items] == [p.uri for p in reversed(public)]
    for item in items:
        assert (item["type"], item["actor"], item["object"]["type"]) == (
            "Create",
            alice.uri,
            "Note",
        )
        assert PUBLIC in item["to"] and PUBLIC in item["object"]["to"]
