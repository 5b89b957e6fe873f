"""The exchange API across two real communities: search finds the other's listings,
matches arrive, and a member proposes a trade on a remote listing by its uri."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from exchange.trade_store import find_trade_by_agreement
from exchange.trade_terms import TradeState
from fediverse_share.federation import actions
from fediverse_share.worker import run_until_idle
from tests.support.instances import Instance
from tests.support.tokens import SignedIn, sign_up

API = "/api/exchange/v1"


async def _post(http: httpx.AsyncClient, who: SignedIn, path: str, body: Any, **headers: str):
    response = await http.post(f"{API}{path}", json=body, headers={**who.headers, **headers})
    assert response.status_code == 201, response.text
    return response.json()


async def test_search_matches_and_a_trade_on_a_remote_listing(
    two: tuple[Instance, Instance],
) -> None:
    """B finds A's offer, B's need is matched with it, and B proposes a trade on it by uri."""
    a, b = two
    async with (
        httpx.AsyncClient(base_url=a.base_url) as http_a,
        httpx.AsyncClient(base_url=b.base_url) as http_b,
    ):
        alice = await sign_up(a, http_a, "alice")
        bob = await sign_up(b, http_b, "bob")
        group = f"@{a.runtime.instance.community_username}@{a.domain}"
        await actions.follow(b.runtime, bob.member, group)
        await run_until_idle(a.runtime, b.runtime)

        offer = {"title": "Cordless drill", "description": "With two batteries.",
                 "category": "tools", "kind": "lend"}  # fmt: skip
        mine = await _post(http_a, alice, "/listings", offer)
        await run_until_idle(a.runtime, b.runtime)

        found = await http_b.get(f"{API}/listings", params={"q": "drill"})
        [remote] = found.json()["listings"]
        assert (remote["uri"], remote["local"], remote["kind"]) == (mine["uri"], False, "lend")
        assert remote["author"] == f"acct:alice@{a.domain}"
        assert remote["community"] == mine["community"]
        by_community = await http_b.get(
            f"{API}/listings", params={"community": f"{group[1:]}", "purpose": "offer"}
        )
        assert [x["uri"] for x in by_community.json()["listings"]] == [mine["uri"]]
        shown = await http_b.get(f"{API}/listings/{remote['id']}")
        assert shown.json() == remote and remote["photos"] == []
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
        photo = await http_a.post(
            f"{API}/listings/{mine['id']}/photos", files={"file": ("p.png", png)},
            data={"description": "The drill"}, headers=alice.headers,
        )  # fmt: skip
        assert photo.status_code == 201, photo.text
        await run_until_idle(a.runtime, b.runtime)
        seen = (await http_b.get(f"{API}/listings/{remote['id']}")).json()
        assert seen["photos"] == photo.json()["photos"]  # the Update reached B
        assert seen["photos"][0]["url"].startswith(a.base_url)
        refused = await http_b.patch(
            f"{API}/listings/{remote['id']}", json={"title": "x"}, headers=bob.headers
        )
        assert refused.status_code == 404  # another community's listing

        assert (await http_b.get(f"{API}/listings/matches", headers=bob.headers)).json() == {
            "matches": [], "next_offset": None,
        }  # fmt: skip
        need = {"title": "Need a drill", "category": "tools", "kind": "lend", "purpose": "request"}
        wanted = await _post(http_b, bob, "/listings", need)
        matches = (await http_b.get(f"{API}/listings/matches", headers=bob.headers)).json()
        [match] = matches["matches"]
        assert (match["own_listing"]["id"], match["listing"]["uri"]) == (wanted["id"], mine["uri"])
        assert match["score"] > 0

        due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        body = {"listing_uri": mine["uri"], "return_due_at": due}
        trade = await _post(http_b, bob, "/trades", body, **{"Idempotency-Key": "drill"})
        again = await _post(http_b, bob, "/trades", body, **{"Idempotency-Key": "drill"})
        assert again == trade
        assert (trade["id"], trade["state"], trade["option"]) == ("bob:drill", "proposed", "loan")
        assert trade["provider"] == alice.member.uri
        assert trade["receiver"] == f"acct:bob@{b.domain}"
        await run_until_idle(a.runtime, b.runtime)
        agreement = await b.runtime.db.read(
            find_trade_by_agreement, f"{bob.member.uri}/agreements/drill"
        )
        assert agreement is not None
        on_a = await a.runtime.db.read(find_trade_by_agreement, str(agreement.agreement_uri))
        assert on_a is not None and on_a.state is TradeState.PROPOSED
        listing_of = await http_b.post(
            f"{API}/trades", json={"listing_uri": wanted["uri"]}, headers=bob.headers
        )
        assert listing_of.status_code == 400  # our own community's listing: the local shape
        unknown = await http_b.post(
            f"{API}/trades", json={"listing_uri": "https://nowhere.example/l/1"},
            headers=bob.headers,
        )  # fmt: skip
        assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_listing")
