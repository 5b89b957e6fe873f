"""The exchange REST API for trades: the lifecycle, the wrong party, reviews and reputation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exchange import audit
from fediverse_share.clock import now_us
from tests.support.tokens import Community, SignedIn, community

API = "/api/exchange/v1"
LADDER = {"ref": "https://example.org/listings/ladder", "title": "A ladder", "kind": "offer"}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as site:
        yield site


async def propose(
    site: Community, who: SignedIn, key: str, *, expect: int = 201, **terms: Any
) -> dict[str, Any]:
    body = {"listing": LADDER, "role": "provider", "option": "fixed", **terms}
    response = await site.http.post(
        f"{API}/trades", json=body, headers={**who.headers, "Idempotency-Key": key}
    )
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def step(
    site: Community,
    who: SignedIn,
    trade_id: str,
    action: str,
    *,
    key: str | None = None,
    **body: Any,
) -> Any:
    headers = dict(who.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await site.http.post(f"{API}/trades/{trade_id}/{action}", json=body, headers=headers)


async def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def me(site: Community, who: SignedIn) -> dict[str, Any]:
    account: dict[str, Any] = (
        await site.http.get(f"{API}/accounts/me", headers=who.headers)
    ).json()
    return account


def refused(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text


async def test_fixed_price_trade_is_paid_with_the_communitys_copay(site: Community) -> None:
    """Propose, accept, deliver, confirm, pay: settled; the seller gets the price, half co-paid."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    domain = site.instance.domain
    trade = await propose(site, alice, "ladder", **{"with": "bob", "price": "10.00"})
    assert trade["id"] == "alice:ladder"
    assert (trade["state"], trade["option"], trade["price"]) == ("proposed", "fixed", "10.00")
    assert (trade["provider"], trade["receiver"]) == (f"acct:alice@{domain}", f"acct:bob@{domain}")
    assert (trade["proposer"], trade["payer"], trade["listing"]) == ("provider", "receiver", LADDER)

    tid = trade["id"]
    await ok(await step(site, bob, tid, "accept"))
    await ok(await step(site, alice, tid, "deliver"))
    await ok(await step(site, bob, tid, "confirm"))
    paid = await ok(await step(site, bob, tid, "pay", key="pay-1"))
    assert paid["state"] == "settled" and paid["settled_at"]
    assert (paid["paid"], paid["payment_id"]) == ("10.00", "trade:alice:ladder")
    assert [s["action"] for s in paid["steps"]] == [
        "propose", "accept", "deliver", "confirm", "pay", "settle",
    ]  # fmt: skip
    assert [s["actor"] for s in paid["steps"]][-2:] == ["receiver", None]

    payment = await ok(
        await site.http.get(f"{API}/payments/{paid['payment_id']}", headers=alice.headers)
    )
    assert (payment["state"], payment["amount"], payment["memo"]) == (
        "committed",
        "10.00",
        "A ladder",
    )
    legs = {(leg["debit_account"], leg["kind"], leg["amount"]) for leg in payment["legs"]}
    assert legs == {("bob", "payment", "5.00"), ("issuance", "issuance", "5.00")}
    seller, buyer = await me(site, alice), await me(site, bob)
    assert (seller["balance"], buyer["balance"]) == ("10.00", "-5.00")
    assert seller["issuance_allowance"] == {"granted": "100.00", "remaining": "95.00"}
    entries = (await site.http.get(f"{API}/accounts/me/statement", headers=alice.headers)).json()
    assert {e["reference"] for e in entries["entries"]} == {"trade:alice:ladder"}
    assert sorted(e["amount"] for e in entries["entries"]) == ["5.00", "5.00"]

    again = await ok(await step(site, bob, tid, "pay", key="pay-1"))
    assert again["steps"] == paid["steps"]
    assert (await me(site, bob))["balance"] == "-5.00"


async def test_only_the_right_party_may_take_each_step(site: Community) -> None:
    """Outsiders see no trade; a party taking the other's step or one out of turn is refused."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    carol = await site.sign_up("carol")
    tid = (await propose(site, alice, "t", **{"with": "bob", "price": "4.00"}))["id"]
    refused(await site.http.get(f"{API}/trades/{tid}", headers=carol.headers), 404, "unknown_trade")
    refused(await step(site, carol, tid, "accept"), 404, "unknown_trade")
    refused(await step(site, alice, tid, "accept"), 403, "wrong_party")
    refused(await step(site, bob, tid, "deliver"), 409, "invalid_transition")
    await ok(await step(site, bob, tid, "accept"))
    refused(await step(site, bob, tid, "deliver"), 403, "wrong_party")
    await ok(await step(site, alice, tid, "deliver"))
    refused(await step(site, alice, tid, "confirm"), 403, "wrong_party")
    refused(await step(site, bob, tid, "pay"), 409, "invalid_transition")
    await ok(await step(site, bob, tid, "confirm"))
    refused(await step(site, alice, tid, "pay"), 403, "wrong_party")
    refused(await step(site, bob, tid, "pay", amount="3.00"), 400, "invalid_request")
    refused(await step(site, bob, tid, "pay", reason="why"), 400, "unknown_field")
    refused(await step(site, bob, tid, "cancel", reason="late"), 409, "invalid_transition")
    shown = await ok(await site.http.get(f"{API}/trades/{tid}", headers=bob.headers))
    assert shown["state"] == "confirmed"
    refused(await step(site, bob, tid, "review", rating=5, text="x"), 409, "review_not_allowed")
    refused(await step(site, bob, "nobody:nothing", "accept"), 404, "unknown_trade")
    refused(await step(site, bob, tid, "decline", reason="n\x00"), 400, "invalid_text")
    refused(await site.http.get(f"{API}/trades/a%00b", headers=bob.headers), 404, "not_found")


async def test_proposals_replay_and_conflict_by_key(site: Community) -> None:
    """The same proposal twice is one trade; other terms under the key are a 409."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    first = await propose(site, alice, "k", **{"with": "bob", "price": "4.00"})
    again = await propose(site, alice, "k", **{"with": "bob", "price": "4.00"})
    assert again == first
    conflict = await propose(site, alice, "k", expect=409, **{"with": "bob", "price": "5.00"})
    assert conflict["code"] == "trade_conflict"
    theirs = await propose(site, bob, "k", **{"with": "alice", "price": "1.00"})
    assert theirs["id"] == "bob:k"
    await ok(await step(site, bob, first["id"], "accept", key="yes"))
    replay = await ok(await step(site, bob, first["id"], "accept", key="yes"))
    assert replay["state"] == "agreed" and len(replay["steps"]) == 2
    refused(await step(site, bob, first["id"], "decline", key="yes"), 409, "trade_conflict")


async def test_bad_proposals_are_typed_errors(site: Community) -> None:
    """Unknown or remote partners, bad options, prices where none belong: clear 4xx errors."""
    alice = await site.sign_up("alice")
    await site.sign_up("bob")
    cases = [
        ({"with": "nobody", "price": "1.00"}, 404, "unknown_member"),
        ({"with": "acct:bob@other.example", "price": "1.00"}, 422, "cross_community_not_available"),
        ({"with": "alice", "price": "1.00"}, 400, "invalid_request"),
        ({"with": "bob", "option": "barter"}, 400, "invalid_request"),
        ({"with": "bob", "role": "broker", "price": "1.00"}, 400, "invalid_request"),
        ({"with": "bob", "option": "gift", "price": "1.00"}, 400, "invalid_request"),
        ({"with": "bob"}, 400, "invalid_request"),
        ({"with": "bob", "price": "-1.00"}, 400, "invalid_amount"),
        ({"with": "bob", "price": "1.00", "currency": "EUR"}, 400, "wrong_currency"),
        ({"with": "bob", "price": "1.00", "listing": {"ref": "x"}}, 400, "invalid_request"),
        ({"with": "bob", "option": "loan", "return_due_at": "tomorrow"}, 400, "invalid_request"),
        ({"with": "bob", "option": "loan"}, 400, "invalid_request"),
        ({"with": "bob", "price": "0", "outside": "EUR five"}, 400, "invalid_request"),
        ({"with": "bob", "price": "1.00", "colour": "red"}, 400, "unknown_field"),
        (
            {"with": "bob", "option": "gift", "listing": {**LADDER, "title": "a\x00"}},
            400,
            "invalid_text",
        ),
    ]
    for n, (terms, status, code) in enumerate(cases):
        answer = await propose(site, alice, f"bad{n}", expect=status, **terms)
        assert answer["code"] == code, terms


async def test_gift_and_pay_what_you_feel(site: Community) -> None:
    """A gift settles on confirmation without money; pay-what-you-feel pays what the payer names."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    gift = (await propose(site, alice, "gift", **{"with": "bob", "option": "gift"}))["id"]
    await ok(await step(site, bob, gift, "accept"))
    await ok(await step(site, alice, gift, "deliver"))
    given = await ok(await step(site, bob, gift, "confirm"))
    assert (given["state"], given["payment_id"], given["price"]) == ("settled", None, None)
    refused(await step(site, bob, gift, "pay"), 409, "invalid_transition")

    feel = await propose(
        site, bob, "soup", role="receiver", option="pay_what_you_feel", **{"with": "alice"}
    )
    tid = feel["id"]
    await ok(await step(site, alice, tid, "accept"))
    await ok(await step(site, alice, tid, "deliver"))
    await ok(await step(site, bob, tid, "confirm"))
    refused(await step(site, bob, tid, "pay"), 400, "invalid_request")
    refused(await step(site, bob, tid, "pay", amount="1.001"), 400, "invalid_amount")
    paid = await ok(await step(site, bob, tid, "pay", amount="3.50", outside="EUR 2.00"))
    assert (paid["state"], paid["paid"], paid["outside"]) == ("settled", "3.50", "EUR 2.00")
    assert paid["steps"][-2]["amount"] == "3.50"
    assert (await me(site, alice))["balance"] == "3.50"
    assert (await me(site, bob))["balance"] == "-1.75"  # the community co-paid half


async def test_loans_come_back_and_trades_can_be_called_off(site: Community) -> None:
    """A loan settles when returned; proposals are declined or cancelled with a reason."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    due = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    loan = await propose(site, alice, "loan", option="loan", return_due_at=due, **{"with": "bob"})
    assert loan["return_due_at"].startswith(due[:16])
    for who, action in ((bob, "accept"), (alice, "deliver"), (bob, "confirm")):
        await ok(await step(site, who, loan["id"], action))
    refused(await step(site, bob, loan["id"], "returned"), 403, "wrong_party")
    back = await ok(await step(site, alice, loan["id"], "returned"))
    assert back["state"] == "settled"

    no = (await propose(site, alice, "no", **{"with": "bob", "price": "1.00"}))["id"]
    declined = await ok(await step(site, bob, no, "decline", reason="not now"))
    assert (declined["state"], declined["reason"]) == ("declined", "not now")
    off = (await propose(site, alice, "off", **{"with": "bob", "price": "1.00"}))["id"]
    await ok(await step(site, bob, off, "accept"))
    refused(await step(site, bob, off, "cancel"), 400, "invalid_request")
    cancelled = await ok(await step(site, bob, off, "cancel", reason="found one"))
    assert cancelled["state"] == "cancelled"


async def test_payment_over_the_credit_limit_leaves_the_trade_confirmed(site: Community) -> None:
    """Paying more than the payer's credit allows is a 422 and books nothing."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    tid = (await propose(site, alice, "big", **{"with": "bob", "price": "300.00"}))["id"]
    for who, action in ((bob, "accept"), (alice, "deliver"), (bob, "confirm")):
        await ok(await step(site, who, tid, action))
    refused(await step(site, bob, tid, "pay"), 422, "credit_limit_exceeded")
    shown = await ok(await site.http.get(f"{API}/trades/{tid}", headers=alice.headers))
    assert (shown["state"], shown["payment_id"]) == ("confirmed", None)
    assert (await me(site, bob))["balance"] == "0.00"


async def settled_trade(site: Community, seller: SignedIn, buyer: SignedIn, key: str) -> str:
    tid = (await propose(site, seller, key, **{"with": buyer.username, "price": "2.00"}))["id"]
    for who, action in ((buyer, "accept"), (seller, "deliver"), (buyer, "confirm"), (buyer, "pay")):
        await ok(await step(site, who, tid, action))
    return tid


async def test_reviews_after_settlement_and_reputation(site: Community) -> None:
    """Blind reviews, one per side, shown once both are in; reputation rests on them."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    tid = await settled_trade(site, alice, bob, "r")
    url = f"{API}/trades/{tid}/review"
    first = await site.http.post(
        url, json={"rating": 5, "text": "Solid ladder"}, headers=bob.headers
    )
    review = await ok(first)
    assert first.status_code == 201
    assert (review["rating"], review["visible"], review["reviewer_role"]) == (5, False, "receiver")
    assert review["subject"] == f"acct:alice@{site.instance.domain}"
    same = await site.http.post(
        url, json={"rating": 5, "text": "Solid ladder"}, headers=bob.headers
    )
    assert (same.status_code, same.json()) == (201, review)
    other = await site.http.post(
        url, json={"rating": 1, "text": "Changed my mind"}, headers=bob.headers
    )
    refused(other, 409, "review_exists")
    for body in ({"rating": 6, "text": "x"}, {"rating": "5", "text": "x"}, {"rating": 5}):
        refused(await site.http.post(url, json=body, headers=alice.headers), 400, "invalid_request")

    reputation = f"{API}/members/alice/reputation"
    hidden = await ok(await site.http.get(reputation, headers=bob.headers))
    assert (hidden["score"], hidden["reviewer_count"], hidden["reviews"]) == ("3.00", 0, [])
    await ok(
        await site.http.post(url, json={"rating": 4, "text": "Paid on time"}, headers=alice.headers)
    )
    shown = await ok(await site.http.get(reputation, headers=bob.headers))
    assert shown["member"] == f"acct:alice@{site.instance.domain}"
    assert [r["text"] for r in shown["reviews"]] == ["Solid ladder"]
    assert shown["reviews"][0]["visible"] is True
    assert shown["reviewer_count"] == 1 and 3 < float(shown["score"]) < 5
    [voice] = shown["voices"]
    assert (voice["reviewer"], voice["mean_rating"], voice["weight"]) == (
        f"acct:bob@{site.instance.domain}", "5.00", "0.25",
    )  # fmt: skip
    trade = await ok(await site.http.get(f"{API}/trades/{tid}", headers=alice.headers))
    assert sorted(r["rating"] for r in trade["reviews"]) == [4, 5]
    acct = await site.http.get(
        f"{API}/members/acct:bob@{site.instance.domain}/reputation", headers=alice.headers
    )
    assert (await ok(acct))["reviews"][0]["text"] == "Paid on time"
    refused(
        await site.http.get(f"{API}/members/nobody/reputation", headers=bob.headers),
        404,
        "unknown_member",
    )
    remote = await site.http.get(
        f"{API}/members/acct:x@other.example/reputation", headers=bob.headers
    )
    refused(remote, 422, "cross_community_not_available")


async def test_the_ledger_audits_clean_after_trading(site: Community) -> None:
    """After trades with co-pays, the audit through the API and the domain's own are clean."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    admin = await site.sign_up("root", admin=True)
    for n in range(3):
        await settled_trade(site, alice, bob, f"a{n}")
        await settled_trade(site, bob, alice, f"b{n}")
    report = await ok(await site.http.get(f"{API}/admin/audit", headers=admin.headers))
    assert (report["ok"], report["errors"]) == (True, 0), report
    problems = await site.instance.runtime.db.read(audit.audit, now_us())
    assert not [p for p in problems if p.severity is audit.Severity.ERROR]
