"""The exchange REST API for members: currency, account, statements and payments."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fediverse_share.clock import now_us
from fediverse_share.exchange_api import quotes
from tests.support.tokens import Community, SignedIn, bearer, community, password_token

API = "/api/exchange/v1"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as site:
        yield site


async def pay(
    site: Community, payer: SignedIn, to: str, amount: str, *, key: str | None = None, **extra: Any
) -> Any:
    headers = dict(payer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = {"to": to, "amount": amount, "currency": site.currency, **extra}
    return await site.http.post(f"{API}/payments", json=body, headers=headers)


async def me(site: Community, who: SignedIn) -> dict[str, Any]:
    response = await site.http.get(f"{API}/accounts/me", headers=who.headers)
    assert response.status_code == 200, response.text
    account: dict[str, Any] = response.json()
    return account


async def statement(site: Community, who: SignedIn, **params: Any) -> Any:
    return await site.http.get(f"{API}/accounts/me/statement", params=params, headers=who.headers)


async def test_currency_is_public(site: Community) -> None:
    """Anyone may read the community's currency: code, name and scale."""
    response = await site.http.get(f"{API}/currency")
    assert response.status_code == 200
    assert response.json() == {"code": site.currency, "name": "exchange units", "scale": 2}


async def test_new_account_shows_balance_limits_and_allowance(site: Community) -> None:
    """A new member's account: zero balance, the default limits, the full allowance."""
    alice = await site.sign_up("alice")
    assert await me(site, alice) == {
        "account": "alice",
        "handle": f"acct:alice@{site.instance.domain}",
        "currency": site.currency,
        "balance": "0.00",
        "available": "0.00",
        "holds": {"debits": "0.00", "credits": "0.00"},
        "credit_limit": "100.00",
        "soft_limit": "80.00",
        "upper_limit": None,
        "issuance_allowance": {"granted": "100.00", "remaining": "100.00"},
        "warning": None,
        "closed": False,
    }


async def test_reads_need_a_member_token_with_a_read_scope(site: Community) -> None:
    """No token is a 401, a token without a read scope a 403, an app token a 422."""
    await site.sign_up("alice")
    anonymous = await site.http.get(f"{API}/accounts/me")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "invalid_token")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    write_only = await password_token(site.http, "alice", "write")
    refused = await site.http.get(f"{API}/accounts/me", headers=bearer(write_only))
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    narrow = await password_token(site.http, "alice", "read:accounts")
    assert (await site.http.get(f"{API}/accounts/me", headers=bearer(narrow))).status_code == 200
    read_only = await password_token(site.http, "alice", "read")
    paid = await site.http.post(
        f"{API}/payments",
        json={"to": "bob", "amount": "1.00", "currency": site.currency},
        headers=bearer(read_only),
    )
    assert (paid.status_code, paid.json()["code"]) == (403, "insufficient_scope")


async def test_payment_moves_money_on_both_statements(site: Community) -> None:
    """A payment is committed, debits the payer and credits the payee, on both statements."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    response = await pay(site, alice, "bob", "12.50", key="lunch", memo="lunch")
    assert response.status_code == 201, response.text
    payment = response.json()
    domain = site.instance.domain
    assert payment["id"] == "pay:alice:lunch"
    assert payment["state"] == "committed"
    assert (payment["from"], payment["to"]) == (f"acct:alice@{domain}", f"acct:bob@{domain}")
    assert (payment["amount"], payment["currency"], payment["memo"]) == (
        "12.50",
        site.currency,
        "lunch",
    )
    assert [
        (leg["debit_account"], leg["credit_account"], leg["amount"]) for leg in payment["legs"]
    ] == [("alice", "bob", "12.50")]
    assert response.headers["location"].endswith(f"{API}/payments/pay:alice:lunch")

    assert (await me(site, alice))["balance"] == "-12.50"
    assert (await me(site, bob))["balance"] == "12.50"
    [paid] = (await statement(site, alice)).json()["entries"]
    [received] = (await statement(site, bob)).json()["entries"]
    assert (paid["amount"], paid["counterparty"], paid["memo"]) == ("-12.50", "bob", "lunch")
    assert (received["amount"], received["counterparty"]) == ("12.50", "alice")
    assert paid["transfer_id"] == received["transfer_id"] == "pay:alice:lunch"
    for who in (alice, bob):
        seen = await site.http.get(response.headers["location"], headers=who.headers)
        assert seen.json() == payment


async def test_payee_may_be_named_as_acct_uri(site: Community) -> None:
    """`to` takes a bare name or acct:name@this-domain, any case."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    for to in (f"acct:bob@{site.instance.domain}", "BOB", f"@bob@{site.instance.domain}"):
        assert (await pay(site, alice, to, "1.00")).status_code == 201
    assert (await me(site, bob))["balance"] == "3.00"


async def test_statement_pages_follow_the_cursor_and_link(site: Community) -> None:
    """Pages come newest first, link to the next, never repeat, and the CSV holds them all."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    for n in range(1, 6):
        assert (await pay(site, alice, "bob", f"{n}.00", key=f"p{n}")).status_code == 201

    first = await statement(site, bob, limit=2)
    body = first.json()
    assert [e["amount"] for e in body["entries"]] == ["5.00", "4.00"]
    assert [e["balance"] for e in body["entries"]] == ["15.00", "10.00"]
    link = first.headers["link"]
    assert link.endswith('>; rel="next"') and f"cursor={body['next_cursor']}" in link
    second = await site.http.get(link[1 : link.index(">")], headers=bob.headers)
    assert [e["amount"] for e in second.json()["entries"]] == ["3.00", "2.00"]
    third = await statement(site, bob, limit=2, cursor=second.json()["next_cursor"])
    assert [e["amount"] for e in third.json()["entries"]] == ["1.00"]
    assert third.json()["next_cursor"] is None and "link" not in third.headers

    exported = await site.http.get(f"{API}/accounts/me/statement.csv", headers=bob.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["amount"] for r in rows] == ["1.00", "2.00", "3.00", "4.00", "5.00"]
    assert {r["currency"] for r in rows} == {site.currency}
    assert rows[-1]["balance"] == "15.00"


async def test_statement_refuses_bad_paging(site: Community) -> None:
    """A limit outside 1-200 or a cursor that is not one (too big for the database too) is a 400."""
    alice = await site.sign_up("alice")
    cursors = ("abc", "-1", "9999999999999999999", "1" * 40)
    for params in (
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "x"},
        *({"cursor": c} for c in cursors),
    ):
        response = await statement(site, alice, **params)
        assert response.status_code == 400, params
        assert set(response.json()) == {"error", "code"}


async def test_replay_with_the_same_key_books_once(site: Community) -> None:
    """The same key twice gives one transfer and the same answer; another body is a 409."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    first = await pay(site, alice, "bob", "7.00", key="once", memo="rent")
    again = await pay(site, alice, "bob", "7.00", key="once", memo="rent")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    by_id = await pay(site, alice, "bob", "7.00", id="once", memo="rent")
    assert by_id.json() == first.json()
    assert (await me(site, bob))["balance"] == "7.00"
    assert len((await statement(site, alice)).json()["entries"]) == 1

    for changed in ({"amount": "8.00"}, {"memo": "other"}):
        body = {"to": "bob", "amount": "7.00", "currency": site.currency, "memo": "rent"}
        conflict = await site.http.post(
            f"{API}/payments",
            json={**body, **changed},
            headers={**alice.headers, "Idempotency-Key": "once"},
        )
        assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    mismatch = await pay(site, alice, "bob", "7.00", key="once", id="twice", memo="rent")
    assert (mismatch.status_code, mismatch.json()["code"]) == (400, "idempotency_key_mismatch")
    # Keys are the payer's own: bob may use "once" too.
    assert (await pay(site, bob, "alice", "1.00", key="once")).json()["id"] == "pay:bob:once"
    assert (await me(site, bob))["balance"] == "6.00"


def _rejections(currency: str, domain: str) -> list[tuple[dict[str, Any], int, str]]:
    good = {"to": "bob", "amount": "1.00", "currency": currency}
    return [
        ({**good, "currency": "EUR"}, 400, "wrong_currency"),
        ({**good, "amount": "-1.00"}, 400, "invalid_amount"),
        ({**good, "amount": "0"}, 400, "invalid_amount"),
        ({**good, "amount": "0.00"}, 400, "invalid_amount"),
        ({**good, "amount": "1.001"}, 400, "invalid_amount"),
        ({**good, "amount": "1e3"}, 400, "invalid_amount"),
        ({**good, "amount": "10000000000000.01"}, 400, "invalid_amount"),
        ({**good, "amount": 1.5}, 400, "invalid_request"),
        ({**good, "to": "nobody"}, 404, "unknown_payee"),
        ({**good, "to": "issuance"}, 404, "unknown_payee"),
        ({**good, "to": "a b"}, 400, "invalid_handle"),
        ({**good, "to": "alice"}, 422, "self_payment"),
        ({**good, "to": f"acct:alice@{domain}"}, 422, "self_payment"),
        ({**good, "amount": "100.01"}, 422, "credit_limit_exceeded"),
        ({**good, "to": "acct:bob@elsewhere.example"}, 422, "no_route"),
        ({**good, "memo": "x" * 501}, 400, "invalid_request"),
        ({**good, "memo": "nul\x00"}, 400, "invalid_text"),
        ({**good, "id": "k", "extra": {"deep": ["\x00"]}}, 400, "invalid_text"),
        ({**good, "colour": "blue"}, 400, "unknown_field"),
        ({"amount": "1.00", "currency": currency}, 400, "invalid_request"),
        ({**good, "quote_id": "forged.quote"}, 422, "quote_invalid"),
    ]


async def test_rejected_payments_are_typed_errors_and_book_nothing(site: Community) -> None:
    """Each bad payment gets its status and code as JSON, and no ledger row is written."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    admin = await site.sign_up("root", admin=True)
    before = await site.http.get(f"{API}/admin/ledger.csv", headers=admin.headers)
    for n, (body, status, code) in enumerate(_rejections(site.currency, site.instance.domain)):
        response = await site.http.post(
            f"{API}/payments", json=body, headers={**alice.headers, "Idempotency-Key": f"k{n}"}
        )
        assert (response.status_code, response.json().get("code")) == (status, code), body
        assert set(response.json()) == {"error", "code"}
    for raw in (b"{", b"[]", b'"text"'):
        response = await site.http.post(
            f"{API}/payments",
            content=raw,
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        assert (response.status_code, response.json()["code"]) == (400, "malformed_json")
    after = await site.http.get(f"{API}/admin/ledger.csv", headers=admin.headers)
    assert after.text == before.text
    assert (await me(site, alice))["balance"] == (await me(site, bob))["balance"] == "0.00"
    # A refused key is not used up: the same key may carry a good payment afterwards.
    assert (await pay(site, alice, "bob", "1.00", key="k13")).status_code == 201


async def test_quotes_for_local_payees(site: Community) -> None:
    """A local quote sends what it receives, over [local], free; an unlinked domain is a 422."""
    alice = await site.sign_up("alice")
    await site.sign_up("bob")
    body = {"to": "bob", "amount": "4.20", "currency": site.currency}
    response = await site.http.post(f"{API}/payments/quote", json=body, headers=alice.headers)
    assert response.status_code == 200, response.text
    quote = response.json()
    money = {"amount": "4.20", "currency": site.currency}
    assert (quote["send"], quote["receive"]) == (money, money)
    assert quote["fee"] == {"amount": "0.00", "currency": site.currency}
    assert (quote["path"], quote["rates"]) == (["local"], [])
    assert quote["to"] == f"acct:bob@{site.instance.domain}" and quote["expires_at"]

    remote = await site.http.post(
        f"{API}/payments/quote",
        json={**body, "to": "acct:bob@other.example"},
        headers=alice.headers,
    )
    assert remote.status_code == 422
    assert remote.json() == {
        "error": "no linked community reaches other.example",
        "code": "no_route",
    }

    paid = await pay(site, alice, "bob", "4.20", key="quoted", quote_id=quote["id"])
    assert paid.status_code == 201, paid.text
    other = await pay(site, alice, "bob", "4.21", key="q2", quote_id=quote["id"])
    assert (other.status_code, other.json()["code"]) == (422, "quote_mismatch")
    tampered = quote["id"][:-2] + ("AA" if not quote["id"].endswith("AA") else "BB")
    forged = await pay(site, alice, "bob", "4.20", key="q3", quote_id=tampered)
    assert (forged.status_code, forged.json()["code"]) == (422, "quote_invalid")


async def test_an_expired_quote_is_refused_but_its_payment_replays(site: Community) -> None:
    """A payment citing an expired quote is refused, unless it is a replay of a booked one."""
    alice = await site.sign_up("alice")
    await site.sign_up("bob")
    secret = site.instance.settings.secret_key
    stale = quotes.Quote("alice", "bob", 300, site.currency, now_us() - 1)
    response = await pay(
        site, alice, "bob", "3.00", key="late", quote_id=quotes.render_quote_id(stale, secret)
    )
    assert (response.status_code, response.json()["code"]) == (422, "quote_expired")
    fresh = quotes.Quote("alice", "bob", 300, site.currency, now_us() + 60_000_000)
    booked = await pay(
        site, alice, "bob", "3.00", key="late", quote_id=quotes.render_quote_id(fresh, secret)
    )
    assert booked.status_code == 201
    replay = await pay(
        site, alice, "bob", "3.00", key="late", quote_id=quotes.render_quote_id(stale, secret)
    )
    assert replay.json() == booked.json()


async def test_a_payment_is_seen_only_by_its_parties(site: Community) -> None:
    """Somebody else asking for a payment is told there is none, as for an unknown id."""
    alice = await site.sign_up("alice")
    await site.sign_up("bob")
    carol = await site.sign_up("carol")
    url = (await pay(site, alice, "bob", "2.00", key="private")).headers["location"]
    for path in (url, f"{API}/payments/pay:alice:nothing", f"{API}/payments/demurrage:x"):
        response = await site.http.get(path, headers=carol.headers)
        assert (response.status_code, response.json()["code"]) == (404, "unknown_payment")
    nul = await site.http.get(f"{API}/payments/pay%00x", headers=carol.headers)
    assert nul.status_code == 404


async def test_the_soft_limit_warns(site: Community) -> None:
    """Below the soft limit the account carries a warning; the hard limit still holds."""
    alice = await site.sign_up("alice")
    await site.sign_up("bob")
    assert (await pay(site, alice, "bob", "79.99")).status_code == 201
    assert (await me(site, alice))["warning"] is None
    assert (await pay(site, alice, "bob", "0.01")).status_code == 201
    account = await me(site, alice)
    assert account["available"] == "-80.00"
    assert "warning threshold" in account["warning"]
    assert (await pay(site, alice, "bob", "20.01")).json()["code"] == "credit_limit_exceeded"
    assert (await pay(site, alice, "bob", "20.00")).status_code == 201
