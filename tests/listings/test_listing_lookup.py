"""Listings fetched on demand by a handle or URL (``GET /listings/lookup``): a member of
B brings A's listings without following anyone, by alice's handle, by A's community
handle (its announces) and by a listing's URL; withdrawn ones are left out."""

from __future__ import annotations

import httpx

from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance
from tests.support.tokens import sign_up

API = "/api/exchange/v1"


async def test_a_member_fetches_listings_by_handle_or_url(two: tuple[Instance, Instance]) -> None:
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as http_a,
        httpx.AsyncClient(base_url=b.base_url) as http_b,
    ):
        alice = await sign_up(a, http_a, "alice")
        bob = await sign_up(b, http_b, "bob")
        made = []
        for title, purpose in (("Cordless drill", "offer"), ("Old sofa", "offer"),
                               ("Need a ladder", "request")):  # fmt: skip
            body = {"title": title, "category": "tools", "kind": "lend", "purpose": purpose}
            created = await http_a.post(f"{API}/listings", json=body, headers=alice.headers)
            assert created.status_code == 201, created.text
            made.append(created.json())
        drill, sofa, ladder = made
        withdrawn = await http_a.delete(f"{API}/listings/{sofa['id']}", headers=alice.headers)
        assert withdrawn.status_code == 200
        await run_until_idle(a.runtime)  # the community announces them

        async def lookup(target: str, headers: dict[str, str] = bob.headers) -> httpx.Response:
            return await http_b.get(f"{API}/listings/lookup", params={"from": target},
                                    headers=headers)  # fmt: skip

        assert (await http_b.get(f"{API}/listings", params={"q": "drill"})).json()["listings"] == []
        group = f"@{a.runtime.instance.community_username}@{a.domain}"
        for target in (f"@alice@{a.domain}", alice.member.uri, group):
            found = await lookup(target)
            assert found.status_code == 200, (target, found.text)
            listed = found.json()["listings"]
            assert [x["uri"] for x in listed] == [ladder["uri"], drill["uri"]], target
            assert all(x["local"] is False for x in listed)
        [one] = (await lookup(drill["uri"])).json()["listings"]
        assert one["uri"] == drill["uri"] and one["author"] == f"acct:alice@{a.domain}"
        # Stored as if they had come to the inbox: B's search finds them now.
        found = (await http_b.get(f"{API}/listings", params={"q": "drill"})).json()["listings"]
        assert [x["uri"] for x in found] == [drill["uri"]]

        for target, code in ((sofa["uri"], "gone"), (f"@nobody@{a.domain}", "not_found")):
            refused = await lookup(target)
            assert (refused.status_code, refused.json()["code"]) == (404, code), target
        assert (await lookup(f"@alice@{a.domain}", {})).status_code == 401
        missing = await http_b.get(f"{API}/listings/lookup", headers=bob.headers)
        assert (missing.status_code, missing.json()["code"]) == (400, "invalid_query")
