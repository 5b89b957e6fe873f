"""Search v2 with ``resolve=true`` of another instance's status URLs, between two real
instances on loopback: fetched signed, stored, and shown only where it may be seen."""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance
from tests.support.mastodon_client import Member, Site
from tests.support.mastodon_entities import check_account, check_status


async def _resolve(member: Member, q: str, **params: str) -> dict[str, Any]:
    found: dict[str, Any] = await member.get(
        "/api/v2/search", params={"q": q, "resolve": "true", **params}
    )
    assert set(found) >= {"accounts", "statuses", "hashtags"}, found
    for account in found["accounts"]:
        check_account(account)
    for status in found["statuses"]:
        check_status(status)
    return found


async def test_a_member_resolves_a_remote_status_by_its_url_or_its_id(
    two: tuple[Instance, Instance],
) -> None:
    """A member of B resolves A's status by its page URL and by its id: one status, A's."""
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as ha,
        httpx.AsyncClient(base_url=b.base_url) as hb,
    ):
        alice = await Site(a, ha).member("alice")
        bob = await Site(b, hb).member("bob")
        first = await alice.post("/api/v1/statuses", data={"status": "Spare #ladder, ask me"})
        second = await alice.post("/api/v1/statuses", data={"status": "Also a wheelbarrow"})
        assert first["url"] != first["uri"]  # the page (/@alice/…) is not the id

        by_url = await _resolve(bob, first["url"], type="statuses")
        [status] = by_url["statuses"]
        assert status["uri"] == first["uri"] and status["url"] == first["url"]
        assert "Spare" in status["content"] and status["visibility"] == "public"
        assert status["account"]["acct"] == f"alice@{a.domain}"
        assert status["id"] != first["id"]  # B's own id for it
        assert by_url["accounts"] == [] and by_url["hashtags"] == []

        by_id = await _resolve(bob, second["uri"])
        assert [s["uri"] for s in by_id["statuses"]] == [second["uri"]]
        assert by_id["accounts"] == []

        # Known now: the same status again, by either address, and readable by its id.
        again = await _resolve(bob, first["uri"], type="statuses")
        assert [s["id"] for s in again["statuses"]] == [status["id"]]
        shown = await bob.get(f"/api/v1/statuses/{status['id']}")
        check_status(shown)
        assert shown["uri"] == first["uri"]


async def test_unresolvable_urls_give_an_empty_result(two: tuple[Instance, Instance]) -> None:
    """Private, direct, deleted, unknown, non-ActivityPub and unreachable URLs: 200, empty."""
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as ha,
        httpx.AsyncClient(base_url=b.base_url) as hb,
    ):
        alice = await Site(a, ha).member("alice")
        site_b = Site(b, hb)
        bob = await site_b.member("bob")
        private = await alice.post(
            "/api/v1/statuses", data={"status": "for followers", "visibility": "private"}
        )
        direct = await alice.post(
            "/api/v1/statuses", data={"status": "@nobody hi", "visibility": "direct"}
        )
        gone = await alice.post("/api/v1/statuses", data={"status": "soon deleted"})
        deleted = await alice.call("DELETE", f"/api/v1/statuses/{gone['id']}")
        assert deleted.status_code == 200
        unknown = f"{a.base_url}/users/alice/statuses/{int(private['id']) + 999}"
        urls = [
            private["uri"],
            private["url"],
            direct["uri"],
            gone["uri"],
            unknown,
            f"{a.base_url}/about",
            f"{a.base_url}/.well-known/nodeinfo",
            f"{a.base_url}/no/such/page",
            "http://127.0.0.1:9/users/nobody/statuses/1",
        ]
        for url in urls:
            found = await _resolve(bob, url)
            assert found == {"accounts": [], "statuses": [], "hashtags": []}, (url, found)

        # Without a member, nothing is fetched (as in Mastodon), even a public status.
        public = await alice.post("/api/v1/statuses", data={"status": "public one"})
        anonymous = await hb.get("/api/v2/search", params={"q": public["uri"], "resolve": "true"})
        assert anonymous.status_code == 200 and anonymous.json()["statuses"] == []
        assert (await _resolve(bob, public["uri"]))["statuses"][0]["uri"] == public["uri"]


async def test_a_delivered_private_status_resolves_only_for_its_audience(
    two: tuple[Instance, Instance],
) -> None:
    """A's followers-only status stored on B resolves for B's follower, not for others."""
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as ha,
        httpx.AsyncClient(base_url=b.base_url) as hb,
    ):
        alice = await Site(a, ha).member("alice")
        site_b = Site(b, hb)
        bob = await site_b.member("bob")
        carol = await site_b.member("carol")
        [account] = (await _resolve(bob, f"@alice@{a.domain}", type="accounts"))["accounts"]
        assert account["acct"] == f"alice@{a.domain}"
        await bob.post(f"/api/v1/accounts/{account['id']}/follow")
        await run_until_idle(a.runtime, b.runtime)
        private = await alice.post(
            "/api/v1/statuses", data={"status": "followers only", "visibility": "private"}
        )
        await run_until_idle(a.runtime, b.runtime)

        [seen] = (await _resolve(bob, private["uri"]))["statuses"]
        assert seen["visibility"] == "private" and "followers only" in seen["content"]
        assert (await _resolve(carol, private["uri"]))["statuses"] == []
        assert (await _resolve(carol, private["url"]))["statuses"] == []
