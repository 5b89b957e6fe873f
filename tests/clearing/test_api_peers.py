"""The linked communities through the exchange API: the members' directory, and the
operators' peering, link statuses, reconciliation and posted rates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from fediverse_share.worker import run_until_idle
from tests.clearing.test_api import API, client, post
from tests.support.tokens import sign_up


@pytest.fixture
async def operators(linked) -> AsyncIterator[tuple[Any, ...]]:
    """A, B, C with an HTTP client each and an operator signed in on each."""
    a, b, c = linked
    async with client(a) as http_a, client(b) as http_b, client(c) as http_c:
        yield tuple(
            [
                (x, http, await sign_up(x.instance, http, "root", admin=True))
                for x, http in ((a, http_a), (b, http_b), (c, http_c))
            ]
        )


async def test_members_see_the_linked_communities_and_both_rates(operators):
    """GET /peers on A: C, active, in CCC, our rate for CCC and the rate C pushed for AAA."""
    (a, http_a, _), _, (c, _, _) = operators
    member = await sign_up(a.instance, http_a, "dora")
    response = await http_a.get(f"{API}/peers", headers=member.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["currency"] == "AAA"
    [peer] = body["peers"]
    assert (peer["domain"], peer["status"]) == (c.domain, "active")
    assert peer["currency"] == {"code": "CCC", "scale": 3}
    ours, theirs = peer["our_rate"], peer["their_rate"]
    assert (ours["currency"], ours["peer_currency"], ours["rate"]) == ("AAA", "CCC", "1/2")
    assert ours["max_amount"]["currency"] == "AAA"
    assert (theirs["currency"], theirs["peer_currency"], theirs["rate"]) == ("CCC", "AAA", "2")
    assert theirs["id"].endswith("/clearing/rates/AAA-1")


async def test_operators_see_links_post_rates_and_change_statuses(operators):
    """Admin peers and rates on A: the account and limits, a new rate version once,
    suspend (no route while suspended), resume, reconcile; bad requests refused."""
    (a, http_a, root), _, (c, _, _) = operators
    links = (await http_a.get(f"{API}/admin/peers", headers=root.headers)).json()["peers"]
    [link] = links
    assert (link["account"], link["balance"], link["credit_limit"]) == (
        f"peer:{c.domain}",
        "0.00",
        "1000.00",
    )
    assert (link["local_consent"], link["remote_consent"], link["note"]) == (True, True, "")

    rate = {"peer_currency": "ccc", "rate": "0.55", "fee_bps": 20, "valid_hours": 2}
    posted = await post(http_a, "/admin/rates", root, rate, key="r1")
    assert posted.status_code == 201, posted.text
    assert (posted.json()["id"], posted.json()["rate"]) == ("CCC-2", "11/20")
    assert (await post(http_a, "/admin/rates", root, rate, key="r1")).json() == posted.json()
    shown = (await http_a.get(f"{API}/admin/rates", headers=root.headers)).json()["rates"]
    assert [r["id"] for r in shown] == ["CCC-2"]
    await run_until_idle(a.runtime, c.runtime)
    for bad in ({**rate, "valid_hours": 0}, {**rate, "rate": "0"}, {**rate, "fee_bps": 10_000},
                {**rate, "max_amount": "0.001"}, {**rate, "valid_hours": 10**9},
                {**rate, "peer_currency": "1AB"}, {**rate, "rate": " 2"}):  # fmt: skip
        refused = await post(http_a, "/admin/rates", root, bad)
        assert refused.status_code == 400, (bad, refused.text)

    peer_url = f"{API}/admin/peers/{c.domain}"
    suspended = await http_a.patch(peer_url, json={"status": "suspended"}, headers=root.headers)
    assert (suspended.json()["status"], suspended.json()["note"]) == (
        "suspended",
        "suspended by the operator",
    )
    member = await sign_up(a.instance, http_a, "dora")
    want = {"to": f"carol@{c.domain}", "amount": "1", "currency": "CCC"}
    refused = await post(http_a, "/payments", member, want)
    assert (refused.status_code, refused.json()["code"]) == (422, "no_route")
    resumed = await http_a.patch(peer_url, json={"status": "active"}, headers=root.headers)
    assert resumed.json()["status"] == "active"
    assert (await post(http_a, "/payments", member, want)).json()["state"] == "committed"
    checked = await post(http_a, f"/admin/peers/{c.domain}/reconcile", root, {})
    assert checked.json()["matched"] is True and checked.json()["peer"]["statement_seq"] >= 1
    assert checked.json()["peer"]["balance"] == "0.50"

    for path, body, status, code in (
        (f"{API}/admin/peers/nowhere.example", {"status": "suspended"}, 404, "unknown_peer"),
        (peer_url, {"status": "frozen"}, 400, "invalid_request"),
        (peer_url, {"status": "active", "note": "x"}, 400, "unknown_field"),
    ):
        answer = await http_a.patch(path, json=body, headers=root.headers)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
    missing = await post(http_a, "/admin/peers/nowhere.example/reconcile", root, {})
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_peer")


async def test_operators_peer_two_communities_through_the_api(operators):
    """A and B's operators POST /admin/peers to each other: active on both sides once the
    Offers are delivered; a community that cannot be read is a 422."""
    (a, http_a, root_a), (b, http_b, root_b), (c, _, _) = operators
    for http, root, other in ((http_a, root_a, b), (http_b, root_b, a)):
        body = {"handle": other.handle(), "credit_limit": "500"}
        added = await post(http, "/admin/peers", root, body, key="peer")
        assert added.status_code == 200, added.text
        assert added.json()["domain"] == other.domain
    await run_until_idle(a.runtime, b.runtime, c.runtime)
    links = (await http_a.get(f"{API}/admin/peers", headers=root_a.headers)).json()["peers"]
    status = {link["domain"]: (link["status"], link["credit_limit"]) for link in links}
    assert status == {b.domain: ("active", "500.00"), c.domain: ("active", "1000.00")}

    for handle, status_code, code in (
        ("@nobody@127.0.0.1:9", 422, "peer_unreachable"),
        ("http://127.0.0.1:9/", 422, "peer_unreachable"),
        (a.handle(), 400, "invalid_message"),
    ):
        refused = await post(
            http_a, "/admin/peers", root_a, {"handle": handle, "credit_limit": "1"}
        )
        assert (refused.status_code, refused.json()["code"]) == (status_code, code), handle
    member = await sign_up(a.instance, http_a, "dora")
    refused = await http_a.get(f"{API}/admin/peers", headers=member.headers)
    assert refused.status_code == 403
