"""Members pay members of other communities through the exchange API: quote, pay, look
the payment up, see it on their statements; members see the linked communities."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.clearing.conftest import Community
from tests.support.tokens import SignedIn, sign_up

API = "/api/exchange/v1"


@contextlib.asynccontextmanager
async def client(c: Community) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=c.instance.base_url, timeout=30) as http:
        yield http


@pytest.fixture
async def sites(linked) -> AsyncIterator[tuple[Any, ...]]:
    """A, B, C with an HTTP client each; dora (A) and erin (B) signed in."""
    a, b, c = linked
    async with client(a) as http_a, client(b) as http_b, client(c) as http_c:
        dora = await sign_up(a.instance, http_a, "dora")
        erin = await sign_up(b.instance, http_b, "erin")
        yield (a, http_a, dora), (b, http_b, erin), (c, http_c)


async def post(http: httpx.AsyncClient, path: str, who: SignedIn, body: Any, key: str = ""):
    headers = {**who.headers, **({"Idempotency-Key": key} if key else {})}
    return await http.post(f"{API}{path}", json=body, headers=headers)


async def test_quote_then_pay_a_member_of_another_community(sites):
    """Dora (AAA) is quoted 70 BBB to erin through C, pays it, and both see it as clearing."""
    (a, http_a, dora), (b, http_b, erin), (c, _) = sites
    to = f"acct:erin@{b.domain}"
    want = {"to": to, "amount": "70", "currency": "BBB"}
    quoted = await post(http_a, "/payments/quote", dora, want)
    assert quoted.status_code == 200, quoted.text
    quote = quoted.json()
    assert quote["receive"] == {"amount": "70", "currency": "BBB"}
    assert quote["send"]["currency"] == "AAA" and quote["fee"] is None
    assert quote["path"] == [a.domain, c.domain, b.domain] and quote["to"] == to
    first, second = quote["rates"]
    assert (first["community"], first["rate"], first["fee_bps"]) == (c.domain, "2", 0)
    assert (second["community"], second["rate"]) == (b.domain, None) and second["rate_id"]

    paid = await post(http_a, "/payments", dora, {**want, "quote_id": quote["id"]}, key="k1")
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    assert (payment["id"], payment["state"], payment["error"]) == (quote["id"], "committed", None)
    assert (payment["send"], payment["receive"]) == (quote["send"], quote["receive"])
    assert (payment["amount"], payment["currency"], payment["to"]) == ("70", "BBB", to)
    assert {(leg["debit_account"], leg["credit_account"]) for leg in payment["legs"]} == {
        ("dora", f"peer:{c.domain}")
    }
    assert paid.headers["location"].endswith(f"{API}/payments/{quote['id']}")
    shown = await http_a.get(paid.headers["location"], headers=dora.headers)
    assert shown.json() == payment
    again = await post(http_a, "/payments", dora, {**want, "quote_id": quote["id"]}, key="k1")
    assert again.json() == payment

    mine = (await http_a.get(f"{API}/accounts/me/statement", headers=dora.headers)).json()
    posted = mine["entries"][0]
    assert (posted["kind"], posted["phase"], posted["memo"]) == (
        "clearing",
        "post",
        f"payment to {to}",
    )
    assert posted["amount"] == "-" + quote["send"]["amount"]
    assert posted["clearing"]["role"] == "payer"
    assert posted["clearing"]["transfer"] == payment["transfer"]
    theirs = (await http_b.get(f"{API}/accounts/me/statement", headers=erin.headers)).json()
    assert theirs["entries"][0]["amount"] == "70"
    assert theirs["entries"][0]["memo"] == f"payment from a member of {a.domain}"
    assert theirs["entries"][0]["clearing"]["role"] == "payee"
    assert {e["kind"] for e in theirs["entries"]} == {"clearing"}


async def test_paying_without_a_quote_and_the_idempotency_key(sites):
    """Without quote_id the server quotes and pays; a key pays once, and only that payment."""
    (a, http_a, dora), (b, _, _), (c, _) = sites
    want = {"to": f"carol@{c.domain}", "amount": "5.000", "currency": "CCC", "memo": "tea"}
    paid = await post(http_a, "/payments", dora, want, key="tea")
    assert paid.status_code == 201, paid.text
    assert (paid.json()["state"], paid.json()["memo"]) == ("committed", "tea")
    assert paid.json()["path"] == [a.domain, c.domain]
    assert (await post(http_a, "/payments", dora, want, key="tea")).json() == paid.json()
    assert (await c.account("carol")).balance_minor == 5_000

    for body, key, status, code in (
        ({**want, "amount": "6"}, "tea", 409, "idempotency_conflict"),
        ({"to": "alice", "amount": "1.00", "currency": "AAA"}, "tea", 409, "idempotency_conflict"),
        ({**want, "quote_id": "12345"}, "fresh", 422, "quote_invalid"),
        (
            {**want, "to": f"nobody@{b.domain}", "amount": "5", "currency": "BBB"},
            "x1",
            422,
            "unknown_payee",
        ),
        ({**want, "currency": "DDD"}, "x2", 400, "wrong_currency"),
        ({**want, "to": "carol@elsewhere.example"}, "x3", 422, "no_route"),
        ({**want, "amount": "900"}, "x4", 422, "credit_limit_exceeded"),
    ):
        refused = await post(http_a, "/payments", dora, body, key=key)
        assert (refused.status_code, refused.json()["code"]) == (status, code), body
    quote = (await post(http_a, "/payments/quote", dora, {**want, "memo": "cake"})).json()
    for body, code in (({**want, "amount": "5.001"}, "quote_mismatch"), (want, "quote_mismatch")):
        refused = await post(http_a, "/payments", dora, {**body, "quote_id": quote["id"]}, "q")
        assert (refused.status_code, refused.json()["code"]) == (422, code)
    assert (await c.account("carol")).balance_minor == 5_000
    assert await a.audit() == [] and await c.audit() == []


async def test_only_the_payer_sees_a_payment_to_another_community(sites):
    """GET /payments/{id} of a cross-community payment is the payer's; others get a 404."""
    (a, http_a, dora), _, (c, _) = sites
    want = {"to": f"carol@{c.domain}", "amount": "1", "currency": "CCC"}
    payment = (await post(http_a, "/payments", dora, want, key="one")).json()
    other = await sign_up(a.instance, http_a, "fred")
    for who, status in ((dora, 200), (other, 404)):
        seen = await http_a.get(f"{API}/payments/{payment['id']}", headers=who.headers)
        assert seen.status_code == status
    quote = (await post(http_a, "/payments/quote", dora, want)).json()
    unpaid = await http_a.get(f"{API}/payments/{quote['id']}", headers=dora.headers)
    assert (unpaid.status_code, unpaid.json()["code"]) == (404, "unknown_payment")
