"""The exchange REST API for operators: settings, members' limits, audit and export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exchange import audit
from fediverse_share.clock import now_us
from fediverse_share.exchange_api.openapi import OPERATIONS
from tests.support.tokens import Community, SignedIn, bearer, community, password_token

API = "/api/exchange/v1"
ADMIN_OPERATIONS = [op for op in OPERATIONS if op.access.is_admin]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as site:
        yield site


async def pay(site: Community, payer: SignedIn, to: str, amount: str) -> Any:
    body = {"to": to, "amount": amount, "currency": site.currency}
    return await site.http.post(f"{API}/payments", json=body, headers=payer.headers)


async def me(site: Community, who: SignedIn) -> dict[str, Any]:
    account: dict[str, Any] = (
        await site.http.get(f"{API}/accounts/me", headers=who.headers)
    ).json()
    return account


async def limits(site: Community, admin: SignedIn, username: str, **values: Any) -> Any:
    return await site.http.patch(
        f"{API}/admin/accounts/{username}/limits", json=values, headers=admin.headers
    )


async def test_admin_endpoints_refuse_everyone_but_operators(site: Community) -> None:
    """Every admin operation: no token 401, a member 403, an operator without admin scopes 403."""
    member = await site.sign_up("alice", scopes="read write admin:read admin:write")
    admin = await site.sign_up("root", admin=True)
    plain_admin = bearer(await password_token(site.http, "root", "read write"))
    assert ADMIN_OPERATIONS, "the table lists admin operations"
    for op in ADMIN_OPERATIONS:
        path = op.path.replace("{username}", "alice").replace("{domain}", "peer.example")
        body = {} if op.method in ("PATCH", "POST") else None
        for headers, status, code in (
            ({}, 401, "invalid_token"),
            (member.headers, 403, "not_admin"),
            (plain_admin, 403, "insufficient_scope"),
        ):
            response = await site.http.request(op.method, path, json=body, headers=headers)
            assert (response.status_code, response.json()["code"]) == (status, code), op.path
        allowed = await site.http.request(op.method, path, json=body, headers=admin.headers)
        # An operator is let in: a read answers, a write without what it needs (a peer's
        # handle, a rate) is refused for that, never for who calls.
        assert allowed.status_code not in (401, 403), (op.path, allowed.text)
        assert allowed.status_code == 200 or op.is_write, (op.path, allowed.text)


async def test_operators_read_and_change_the_settings(site: Community) -> None:
    """GET shows the settings, PATCH changes the fields it names, new members follow them."""
    admin = await site.sign_up("root", admin=True)
    settings = (await site.http.get(f"{API}/admin/settings", headers=admin.headers)).json()
    assert settings == {
        "currency": site.currency,
        "default_credit_limit": "100.00",
        "default_soft_limit": "80.00",
        "default_upper_limit": None,
        "issuance_allowance": "100.00",
        "issuance_copay_bps": 5000,
        "issuance_reputation_threshold": "0",
        "demurrage_rate_bps": 100,
        "demurrage_period": "month",
        "demurrage_free_threshold": "100.00",
    }
    change = {
        "default_credit_limit": "50.00",
        "default_soft_limit": "40.00",
        "default_upper_limit": "500.00",
        "issuance_allowance": "20",
        "issuance_reputation_threshold": "3.5",
        "demurrage_rate_bps": 50,
        "demurrage_period": "day",
    }
    patched = await site.http.patch(
        f"{API}/admin/settings", json=change, headers={**admin.headers, "Idempotency-Key": "s1"}
    )
    assert patched.status_code == 200, patched.text
    expected = {**settings, **change, "issuance_allowance": "20.00"}
    assert patched.json() == expected
    again = await site.http.patch(
        f"{API}/admin/settings", json=change, headers={**admin.headers, "Idempotency-Key": "s1"}
    )
    assert again.json() == expected
    assert (await site.http.get(f"{API}/admin/settings", headers=admin.headers)).json() == expected

    newcomer = await me(site, await site.sign_up("dora"))
    assert (newcomer["credit_limit"], newcomer["soft_limit"]) == ("50.00", "40.00")
    assert newcomer["upper_limit"] == "500.00"
    assert newcomer["issuance_allowance"] == {"granted": "20.00", "remaining": "20.00"}


async def test_bad_settings_are_refused_and_change_nothing(site: Community) -> None:
    """Out-of-range or malformed settings are 400s and leave the settings as they were."""
    admin = await site.sign_up("root", admin=True)
    before = (await site.http.get(f"{API}/admin/settings", headers=admin.headers)).json()
    for body, code in (
        ({"default_soft_limit": "100.01"}, "invalid_settings"),
        ({"issuance_copay_bps": 10_001}, "invalid_settings"),
        ({"issuance_copay_bps": True}, "invalid_settings"),
        ({"demurrage_rate_bps": "100"}, "invalid_settings"),
        ({"demurrage_period": "year"}, "invalid_settings"),
        ({"issuance_reputation_threshold": "NaN"}, "invalid_settings"),
        ({"issuance_allowance": None}, "invalid_settings"),
        ({"default_credit_limit": "-5.00"}, "invalid_amount"),
        ({"default_credit_limit": "1.005"}, "invalid_amount"),
        ({"peers": []}, "unknown_field"),
    ):
        response = await site.http.patch(f"{API}/admin/settings", json=body, headers=admin.headers)
        assert (response.status_code, response.json()["code"]) == (400, code), body
    after = (await site.http.get(f"{API}/admin/settings", headers=admin.headers)).json()
    assert after == before


async def test_member_limits_changed_by_an_operator_take_effect(site: Community) -> None:
    """A lowered credit limit refuses what it used to allow; an upper limit caps the payee."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    admin = await site.sign_up("root", admin=True)
    changed = await limits(site, admin, "alice", credit_limit="10.00", soft_limit="5.00")
    assert changed.status_code == 200, changed.text
    assert (changed.json()["account"], changed.json()["credit_limit"]) == ("alice", "10.00")
    assert (await me(site, alice))["soft_limit"] == "5.00"
    refused = await pay(site, alice, "bob", "10.01")
    assert (refused.status_code, refused.json()["code"]) == (422, "credit_limit_exceeded")
    assert (await pay(site, alice, "bob", "10.00")).status_code == 201
    assert (await me(site, alice))["warning"] is not None

    await limits(site, admin, "bob", upper_limit="15.00")
    capped = await pay(site, await site.sign_up("carol"), "bob", "5.01")
    assert (capped.status_code, capped.json()["code"]) == (422, "upper_limit_exceeded")
    unlimited = await limits(site, admin, "bob", upper_limit=None)
    assert unlimited.json()["upper_limit"] is None
    assert (await me(site, bob))["balance"] == "10.00"

    for username, body, status, code in (
        ("nobody", {"credit_limit": "1.00"}, 404, "not_found"),
        ("issuance", {"credit_limit": "1.00"}, 404, "not_found"),
        ("alice", {"soft_limit": "20.00"}, 400, "invalid_request"),
        ("alice", {"credit_limit": 5}, 400, "invalid_settings"),
        ("alice", {"floor": "1.00"}, 400, "unknown_field"),
    ):
        response = await limits(site, admin, username, **body)
        assert (response.status_code, response.json()["code"]) == (status, code), body


async def test_audit_and_export_after_a_day_of_trading(site: Community) -> None:
    """After payments, refusals and limit changes the audit is clean, here and in the domain."""
    alice, bob = await site.sign_up("alice"), await site.sign_up("bob")
    admin = await site.sign_up("root", admin=True)
    await pay(site, alice, "bob", "30.00")
    await pay(site, bob, "alice", "5.50")
    lowered = await limits(site, admin, "alice", credit_limit="20.00", soft_limit="15.00")
    assert lowered.status_code == 200, lowered.text
    await pay(site, alice, "bob", "1.00")  # refused: alice is at -24.50
    await pay(site, bob, "alice", "100.00")
    await pay(site, bob, "nobody", "1.00")

    report = await site.http.get(f"{API}/admin/audit", headers=admin.headers)
    assert report.status_code == 200
    body = report.json()
    assert (body["ok"], body["errors"]) == (True, 0)
    problems = await site.instance.runtime.db.read(audit.audit, now_us())
    assert [p.code for p in problems] == [p["code"] for p in body["problems"]]
    assert not [p for p in problems if p.severity is audit.Severity.ERROR]

    exported = await site.http.get(f"{API}/admin/ledger.csv", headers=admin.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    moves = [(r["debit_account"], r["credit_account"], r["amount"]) for r in rows]
    assert moves == [
        ("alice", "bob", "30.00"),
        ("bob", "alice", "5.50"),
        ("bob", "alice", "100.00"),
    ]
